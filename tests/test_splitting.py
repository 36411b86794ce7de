"""Splitting long replies: every part fits Discord, no code fence is broken, nothing lost."""

from __future__ import annotations

import re

from bot.splitting import DISCORD_LIMIT, close_open_fence, split_message


def fences_balanced(part: str) -> bool:
    return sum(1 for line in part.split("\n") if line.strip().startswith("```")) % 2 == 0


def strip_artifacts(parts: list[str]) -> str:
    """Undo the close/reopen fences the splitter adds, to compare with the original."""
    joined = "\n".join(parts)
    return re.sub(r"\n```\n```\w*\n", "\n", joined)


def test_short_text_is_one_part() -> None:
    assert split_message("hello") == ["hello"]


def test_long_prose_splits_on_lines_within_limit() -> None:
    text = "\n".join(f"line {i} " + "x" * 60 for i in range(100))
    parts = split_message(text)
    assert len(parts) == 4
    assert all(len(part) <= DISCORD_LIMIT for part in parts)
    assert "\n".join(parts) == text


def test_code_block_across_parts_is_closed_and_reopened() -> None:
    code = "\n".join(f"    print({i})  # {'y' * 40}" for i in range(120))
    text = f"Here you go:\n```python\n{code}\n```\nDone."
    parts = split_message(text)
    assert len(parts) >= 3
    for part in parts:
        assert len(part) <= DISCORD_LIMIT
        assert fences_balanced(part), part[:80]
    assert parts[1].startswith("```python\n")
    assert strip_artifacts(parts) == text


def test_a_line_longer_than_the_limit_is_cut_on_spaces_or_hard() -> None:
    words = " ".join(["word"] * 1000)
    assert all(len(part) <= DISCORD_LIMIT for part in split_message(words))
    solid = "z" * 4500
    parts = split_message(solid)
    assert "".join(parts) == solid
    assert [len(part) for part in parts] == [1996, 1996, 508]


def test_prefix_of_a_growing_text_splits_the_same_way() -> None:
    """The streaming writer relies on full parts never changing as text grows."""
    text = "\n".join(f"{i}: " + "word " * 15 for i in range(200))
    final = split_message(text)
    for end in range(2500, len(text), 700):
        growing = split_message(text[:end])
        assert growing[:-1] == final[: len(growing) - 1]


def test_inline_triple_backticks_do_not_open_a_fence() -> None:
    assert close_open_fence("use ```x``` here") == "use ```x``` here"
    assert close_open_fence("```js\nlet a") == "```js\nlet a\n```"
