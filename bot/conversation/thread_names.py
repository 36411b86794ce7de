"""The name of the thread a question opens: what the channel's thread list shows for it.

Pure and bounded, so its promises hold over generated text: at most Discord's 100
characters (Channels resource, "Start Thread from Message": ``name`` is 1-100 characters),
never empty or invisible, on one line, and free of mention syntax and markdown, which a
thread name would show raw. A spoiler stays hidden: its text never reaches the name.
"""

from __future__ import annotations

import re

from bot.conversation.triggers import visible

MAX_THREAD_NAME = 100
FALLBACK_NAME = "Question"
# Enough of the question for any name: what follows the first 100 visible characters is
# cut anyway, and markup removed from this much leaves more than that in any real question.
_READ_CHARS = 4 * MAX_THREAD_NAME + 400
_SPOILER = re.compile(r"\|\|[^|]*\|\|")
_MARKUP_TOKEN = re.compile(r"<(?:[@#][!&]?\d*|a?:\w*:\d*|t:[\d:\w]*|id:\w*)>")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)")
_LINE_MARKER = re.compile(r"(?m)^[ \t]*(?:#{1,3}|-#|>{1,3}|[-*+]|\d+\.)[ \t]+")
_MARKUP_CHARS = re.compile(r"[*`<>]|~~|\|\||__")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def thread_name(question: str) -> str:
    """A one-line name for the thread ``question`` opens: links by their text, headings,
    quotes, list markers, emphasis and mention syntax (users, roles, channels, custom
    emoji, timestamps) removed, cut at a word near 100 characters with "…"; "Question"
    when nothing readable is left."""
    text = _SPOILER.sub(" [spoiler] ", question[:_READ_CHARS])
    text = _MARKUP_TOKEN.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _LINE_MARKER.sub("", text)
    text = _MARKUP_CHARS.sub("", text)
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text))
    name = visible(_shortened(text.strip()))
    return name or FALLBACK_NAME


def _shortened(text: str) -> str:
    """``text`` within the limit: cut at the last space of the allowed part when there is
    one in its second half, else mid-word, and marked with an ellipsis."""
    if len(text) <= MAX_THREAD_NAME:
        return text
    head = text[: MAX_THREAD_NAME - 1]
    space = head.rfind(" ")
    if space > MAX_THREAD_NAME // 2:
        head = head[:space]
    return head.rstrip() + "…"
