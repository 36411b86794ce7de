"""Thread names (``bot.conversation.thread_names.thread_name``): Discord's 1-100 characters,
one visible line, no mention syntax and no markdown, over generated questions."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.conversation.thread_names import FALLBACK_NAME, MAX_THREAD_NAME, thread_name
from bot.conversation.triggers import visible

MENTION_SYNTAX = re.compile(r"<(?:@[!&]?|#)\d+>|<a?:\w+:\d+>|<t:\d+")
"""User, role and channel mentions, custom emoji and timestamps (Discord docs, "Message
Formatting")."""

markup = st.sampled_from([
    "<@1085131932938928128>", "<@!12>", "<@&34>", "<#56>", "<:blob:78>", "<a:wave:90>",
    "<t:1700000000:R>", "**", "__", "~~", "||", "`", "```", "# ", "## ", "> ", ">>> ", "- ",
    "-# ", "1. ", "[docs](https://example.com/a)", "\n", "\r\n", "\t", "\u200b", "<", ">",
    "@", "#",
])
words = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
questions = st.lists(st.one_of(markup, words), max_size=40).map("".join)
# Anything at all, long enough to need cutting, biased to the characters of markup.
raw = st.text(alphabet=st.sampled_from(list("<>@#&!:*_~`|[]()\n 0123456789ab")) |
              st.characters(), max_size=600)


@given(st.one_of(questions, raw))
def test_a_name_is_one_visible_line_within_discords_limit(question: str) -> None:
    name = thread_name(question)
    assert 1 <= len(name) <= MAX_THREAD_NAME
    assert visible(name) == name
    assert "\n" not in name and "\r" not in name
    assert not MENTION_SYNTAX.search(name)
    assert "<" not in name and ">" not in name


@given(st.text(alphabet="abcdefghij klmnop?", min_size=1, max_size=MAX_THREAD_NAME))
def test_a_short_plain_question_is_its_own_name(question: str) -> None:
    expected = " ".join(question.split()) or FALLBACK_NAME
    assert thread_name(question) == expected


@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=12), min_size=20,
                max_size=60))
def test_a_long_question_is_cut_at_a_word_with_an_ellipsis(words_: list[str]) -> None:
    question = " ".join(words_)
    name = thread_name(question)
    if len(question) <= MAX_THREAD_NAME:
        assert name == question
        return
    assert name.endswith("…")
    assert question.startswith(name[:-1])
    assert question[len(name) - 1] == " ", "cut where a word ends"


def test_markdown_and_mentions_are_cleaned() -> None:
    question = (
        "## **How** do I `deploy` to <#851845530937065472> with __[the guide]"
        "(https://example.com/g)__? cc <@602862417600446464> ||the secret plan||\nthanks"
    )
    assert thread_name(question) == (
        "How do I deploy to with the guide? cc [spoiler] thanks"
    )


def test_nothing_readable_falls_back() -> None:
    assert thread_name("<@1085131932938928128> **  ** \u200b") == FALLBACK_NAME
