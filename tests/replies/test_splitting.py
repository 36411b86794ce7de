"""Splitting long replies: every part fits Discord, renders as the whole would, nothing lost.

The expectations come from Discord (2 000 code points a message) and from CommonMark 0.31.2
section 4.5 (fenced code blocks), through :func:`reference_lines`, a deliberately naive
line-by-line reading of that section written independently of ``bot.replies.splitting``.

"Nothing lost" means: each part is ``reopen + text[start:end] + close``, where ``reopen``
is empty or one opening-fence line and ``close`` empty or one closing-fence line; the spans
follow each other in order; and every character of the text outside the spans (the
newline or space a part was cut at, a run of blank text) is whitespace.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from datetime import timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.replies.splitting import (
    DISCORD_LIMIT,
    Chunk,
    close_open_fence,
    split_chunks,
    split_message,
)

FENCE_LIKE = re.compile(r" {0,3}(```|~~~)")


def max_parts(length: int, limit: int) -> int:
    """The splitter's contract: a part gives up at most a quarter of the limit to end on a
    line break or a space, and at most 100 characters to fence markers and emoji-safe
    cuts; so every part but the last carries at least ``limit * 3 // 4 - 100`` characters."""
    return math.ceil(length / (limit * 3 // 4 - 100)) + 1


# -- a reference reading of CommonMark's fences -----------------------------------------------


def reference_lines(document: str) -> tuple[list[str], tuple[str, int] | None]:
    """Each line of ``document`` as ``open``/``close``/``code``/``text``, and the fence
    (character, run length) still open at the end."""
    statuses: list[str] = []
    fence: tuple[str, int] | None = None
    for line in document.split("\n"):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        char = stripped[:1]
        run = len(stripped) - len(stripped.lstrip(char)) if char in ("`", "~") else 0
        rest = stripped[run:]
        if fence is None:
            if indent <= 3 and run >= 3 and not (char == "`" and "`" in rest):
                fence = (char, run)
                statuses.append("open")
            else:
                statuses.append("text")
        elif indent <= 3 and char == fence[0] and run >= fence[1] and not rest.strip(" \t"):
            fence = None
            statuses.append("close")
        else:
            statuses.append("code")
    return statuses, fence


def straddles_a_fence_like_line(text: str, cut: int, whole: list[str]) -> bool:
    """A line that starts like a fence and is ruled out only after ``cut`` (a backtick in a
    backtick fence's info string): CommonMark judges the whole line, so its first part
    alone reads as an opening fence. Discord shows such unclosed backticks as text."""
    line_start = text.rfind("\n", 0, cut) + 1
    line = text[line_start:cut]
    return bool(FENCE_LIKE.match(line)) and whole[text.count("\n", 0, cut)] == "text"


def language(opening_line: str) -> str:
    info = opening_line.strip(" ").lstrip("`~").split()
    return info[0] if info and re.fullmatch(r"[A-Za-z0-9_+#.\-]{1,24}", info[0]) else ""


def check_split(text: str, limit: int = DISCORD_LIMIT) -> list[Chunk]:
    """Assert every invariant of splitting ``text``; return the parts."""
    chunks = split_chunks(text, limit)
    assert [chunk.content for chunk in chunks] == split_message(text, limit)
    whole, whole_open = reference_lines(text)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    assert len(chunks) <= max_parts(len(text), limit)
    previous_end = 0
    for index, chunk in enumerate(chunks):
        content, start, end = chunk.content, chunk.start, chunk.end
        last = index == len(chunks) - 1
        assert len(content) <= limit
        assert content.strip(), "Discord refuses a blank message"
        # nothing lost
        assert previous_end <= start < end <= len(text)
        assert not text[previous_end:start].strip(), "only whitespace between parts"
        previous_end = end
        span = text[start:end]
        reopen = "" if content.startswith(span) else content[: content.index("\n") + 1]
        assert content[len(reopen) :].startswith(span)
        close = content[len(reopen) + len(span) :]
        assert reopen.count("\n") <= 1 and (close == "" or close.count("\n") == 1)
        assert close == "" or close.startswith("\n")
        # renders as the whole: fences balanced, every whole line read as in the whole
        statuses, part_open = reference_lines(content)
        if not last and text[end] != "\n" and straddles_a_fence_like_line(text, end, whole):
            part_open = reference_lines(content[: max(0, content.rfind("\n"))])[1]
        if last:
            assert (part_open is None) == (whole_open is None or end < len(text))
        else:
            assert part_open is None, f"part {index} leaves a fence open"
        first_line = text.count("\n", 0, start)
        offset = 1 if reopen else 0
        if reopen:
            assert statuses[0] == "open"
            opener = max(i for i in range(first_line + 1) if whole[i] == "open")
            opening = text[line_starts[opener] :].split("\n", 1)[0]
            assert language(reopen) == language(opening), "reopened with its language tag"
        span_lines = span.split("\n")
        for k in range(len(span_lines)):
            starts_whole = k > 0 or start in line_starts
            ends_whole = k < len(span_lines) - 1 or end == len(text) or text[end] == "\n"
            if starts_whole and ends_whole:
                assert statuses[k + offset] == whole[first_line + k], (index, k)
    assert not text[previous_end:].strip()
    return chunks


# -- Markdown-like text ------------------------------------------------------------------------

WORDY = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
PLAIN = "abcdefghij KLMNOP 0123456789 .,;:!?-*_#>()[]"
LETTERS = st.sampled_from([*PLAIN, "漢", "字", "あ", "😀", "👍🏽", "e\u0301", "🇫🇷", "👩‍💻"])
NO_SPACE = st.sampled_from([*"ABCDEFGHabcdefgh0123456789+/=:%", "漢", "字", "😀"])


def text_of(elements: st.SearchStrategy[str], **size: int) -> st.SearchStrategy[str]:
    """Text made of ``elements``, some of which are several code points (emoji, flags)."""
    return st.lists(elements, **size).map("".join)


LANGS = st.sampled_from(["", "python", "js", "c++", "bash", "diff", "objective-c", "x" * 30])


@st.composite
def fence_block(draw: st.DrawFn) -> str:
    char = draw(st.sampled_from("`~"))
    run = draw(st.integers(3, 6))
    indent = " " * draw(st.integers(0, 5))
    info = draw(st.one_of(LANGS, st.text(PLAIN + "`~", max_size=40)))
    body = draw(st.lists(st.one_of(
        text_of(LETTERS, max_size=120),
        st.text(NO_SPACE, min_size=50, max_size=2500),
        st.builds(lambda n, c: " " * n + c * 3, st.integers(0, 4), st.sampled_from("`~")),
    ), max_size=40))
    closing = draw(st.sampled_from(["same", "longer", "shorter", "other", "trailing", "none"]))
    close = {
        "same": char * run, "longer": char * (run + 2), "shorter": char * 2,
        "other": ("~" if char == "`" else "`") * run, "trailing": char * run + "  x",
        "none": "",
    }[closing]
    return "\n".join([f"{indent}{char * run}{info}", *body, *([indent + close] * bool(close))])


@st.composite
def long_fence_line(draw: st.DrawFn) -> str:
    """A line that starts like a fence and runs past the limit, like the issue's answer."""
    head = draw(st.sampled_from(["```npm install``` is the command you need, ", "```", "~~~",
                                 "```python ", "  ```", "````js `x` "]))
    words = draw(st.lists(text_of(LETTERS, min_size=1, max_size=12), min_size=100,
                          max_size=600))
    tail = draw(st.sampled_from(["", " and ``` at the end", "```"]))
    return head + " ".join(words) + tail


BLOCKS = st.one_of(
    text_of(LETTERS, max_size=400),
    st.text(NO_SPACE, min_size=100, max_size=4500),
    fence_block(),
    long_fence_line(),
    st.builds(lambda code: f"1. Install:\n   ```bash\n   {code}\n   ```", st.text(PLAIN)),
    st.builds(lambda n: "```py\nx = 1\n```\n" * n, st.integers(1, 200)),
    st.just("Run ```npm i``` then ```npm test``` here."),
    st.text(WORDY, max_size=200),
)
MARKDOWN = st.lists(BLOCKS, max_size=12).flatmap(
    lambda blocks: st.lists(st.sampled_from(["\n", "\n\n", " ", ""]), min_size=len(blocks),
                            max_size=len(blocks)).map(
        lambda joins: "".join(b + j for b, j in zip(blocks, joins, strict=True))
    )
)
PROPERTY = settings(max_examples=150, deadline=timedelta(seconds=5))


@PROPERTY
@given(MARKDOWN, st.sampled_from([DISCORD_LIMIT, 200, 333, 1000]))
def test_any_markdown_splits_within_every_invariant(text: str, limit: int) -> None:
    check_split(text, limit)


@PROPERTY
@given(MARKDOWN, st.data())
def test_parts_before_the_last_do_not_change_as_the_text_grows(
    text: str, data: st.DataObject
) -> None:
    """The streaming writer treats every part but the last as final. CommonMark judges a
    fence line by its whole line, so a prefix ending inside a fence-like line is exempt."""
    assume(len(text) > 250)
    end = data.draw(st.integers(1, len(text)))
    last_line = text[:end].rsplit("\n", 1)[-1]
    assume(not FENCE_LIKE.match(last_line))
    final = split_message(text, 250)
    growing = split_message(text[:end], 250)
    assert growing[:-1] == final[: max(0, len(growing) - 1)]


# -- the shapes from the issue, as examples ----------------------------------------------------

ISSUE_ANSWER = "```npm install``` is the command you need, " + (
    "then run the build and check the output for any warnings before you deploy it " * 40
)


def test_the_issue_answer_splits_on_words_into_few_parts() -> None:
    chunks = check_split(ISSUE_ANSWER)
    assert len(chunks) == math.ceil(len(ISSUE_ANSWER) / DISCORD_LIMIT)
    assert not any(chunk.content.startswith("```") for chunk in chunks[1:])
    assert " ".join(split_message(ISSUE_ANSWER)) == ISSUE_ANSWER


def test_the_issue_answer_finishes_in_a_subprocess() -> None:
    """The regression: the old splitter took the whole first line as a fence tag and made
    420 parts of this answer; a splitter that loops fails here by timeout, not by hanging."""
    script = (
        "from bot.replies.splitting import split_message\n"
        f"parts = split_message({ISSUE_ANSWER!r})\n"
        "print(len(parts), max(map(len, parts)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    count, longest = map(int, done.stdout.split())
    assert count <= max_parts(len(ISSUE_ANSWER), DISCORD_LIMIT)
    assert longest <= DISCORD_LIMIT


PATHOLOGICAL = {
    "fence line past the limit": "```" + "word " * 200_000,
    "no whitespace": "QUJD" * 250_000,
    "cjk": "漢字かな" * 250_000,
    "backticks only": "`" * 1_000_000,
    "small code blocks": "```py\nx = 1\n```\n" * 60_000,
    "inline spans": "```x``` " * 125_000,
    "open fence, then prose": "~~~\n" + "line of code\n" * 80_000,
}


def test_a_megabyte_of_each_pathological_shape_finishes() -> None:
    """Linear time is measured in tests/benchmarks/bench_splitting.py; here a megabyte of
    each shape must merely finish (a quadratic splitter takes hours), in a subprocess so a
    hang fails instead of stalling the suite."""
    script = (
        "import sys\nfrom bot.replies.splitting import split_message\n"
        "from tests.replies.test_splitting import PATHOLOGICAL\n"
        "for name, text in PATHOLOGICAL.items():\n"
        "    parts = split_message(text)\n"
        "    print(len(text), len(parts), max(map(len, parts)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    rows = [tuple(map(int, line.split())) for line in done.stdout.splitlines()]
    assert len(rows) == len(PATHOLOGICAL)
    for length, count, longest in rows:
        assert length >= 900_000
        assert count <= max_parts(length, DISCORD_LIMIT)
        assert longest <= DISCORD_LIMIT


def test_short_text_is_one_part() -> None:
    assert split_message("hello") == ["hello"]


def test_blank_text_makes_no_part() -> None:
    assert split_message("   \n\n  ") == []


def test_code_block_across_parts_is_closed_and_reopened_with_its_tag() -> None:
    code = "\n".join(f"    print({i})  # {'y' * 40}" for i in range(120))
    text = f"Here you go:\n```python\n{code}\n```\nDone."
    parts = check_split(text)
    assert len(parts) == 4
    assert parts[0].content.endswith("\n```")
    assert all(part.content.startswith("```python\n") for part in parts[1:])


def test_tilde_and_indented_fences_are_reopened_as_they_were() -> None:
    body = "\n".join(f"   step {i} " + "z" * 50 for i in range(60))
    text = f"1. Install:\n   ~~~~bash\n{body}\n   ~~~~\n2. Done"
    parts = check_split(text)
    assert len(parts) > 1
    assert parts[1].content.startswith("   ~~~~bash\n")
    assert parts[0].content.endswith("\n   ~~~~")


def test_a_shorter_or_different_fence_does_not_close_the_block() -> None:
    inner = "\n".join(["```", "~~~~", "```` x", *[f"line {i} " + "q" * 60 for i in range(40)]])
    text = f"````md\n{inner}\n````\nafter"
    parts = check_split(text)
    assert all(part.content.startswith("````md\n") for part in parts[1:])


def test_a_cut_never_starts_a_part_with_a_fence_it_is_not() -> None:
    text = "x" * 1979 + "```python" + "y" * 100
    parts = check_split(text)
    assert not parts[1].content.startswith("```")


def test_emoji_sequences_are_not_cut_in_half() -> None:
    family = "👩‍👩‍👧‍👦"
    text = family * 1000
    for part in split_message(text):
        assert part.startswith("👩") and part.endswith("👦")


def test_a_huge_fence_run_is_tracked_without_markers() -> None:
    text = "`" * 40 + "\n" + "code line\n" * 500 + "`" * 40 + "\nafter"
    chunks = split_chunks(text)
    assert all(len(chunk.content) <= DISCORD_LIMIT for chunk in chunks)
    assert "".join(text[c.start : c.end] + "\n" for c in chunks).rstrip() == text


def test_inline_triple_backticks_do_not_open_a_fence() -> None:
    assert close_open_fence("use ```x``` here") == "use ```x``` here"
    assert close_open_fence("```npm install``` is it") == "```npm install``` is it"
    assert close_open_fence("```js\nlet a") == "```js\nlet a\n```"
    assert close_open_fence("  ~~~~\nlet a\n~~~") == "  ~~~~\nlet a\n~~~\n  ~~~~"
