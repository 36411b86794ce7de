"""Split model output into Discord-sized messages without breaking code fences.

Discord rejects message content over 2 000 characters, counted in code points as Python's
``len`` counts them (discord/discord-api-docs#1315). A naive split can cut a code block in
two, after which the rest of the reply renders as code and the start of the next message
does not. Here a part that ends inside a fence closes it, and the next part reopens it with
the same fence and language tag.

Fences follow CommonMark 0.31.2, section 4.5 "Fenced code blocks": an opening fence is up
to three spaces of indentation and a run of at least three backticks or tildes; a backtick
fence's info string may not contain a backtick (so "```npm install``` is ..." opens
nothing); the closing fence uses the same character, at least as many of it, up to three
spaces of indentation and nothing but spaces or tabs after it; an unclosed fence runs to
the end. A fence line is judged by its whole line. Deeper-indented fences (nested lists)
and fences inside block quotes are not fences to CommonMark at the top level and are left
alone; a fence run longer than :data:`_MAX_RUN` is tracked but never closed or reopened.
One shape cannot render as the whole: a line that starts like a fence, runs past the limit
and is ruled out only after the cut (a backtick late in a backtick fence's info string);
its first part shows unclosed backticks, which Discord renders as text.

Every step is linear: each line is classified once, and each part looks back at most a
quarter of the limit for a line break or a space. Every part but the last carries at least
``limit * 3 // 4 - 100`` characters of the text (the 100 covers the fence markers and the
few characters a cut may move back to avoid splitting an emoji or making a fence), so a
text of ``n`` characters makes at most ``ceil(n / (limit * 3 // 4 - 100)) + 1`` parts.

The split is greedy from the start of the text, so a part depends only on the text up to
its end and the rest of the line it ends in. That lets the streaming writer treat every
part but the last as final while the text is still growing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DISCORD_LIMIT = 2000
MIN_LIMIT = 200
_MAX_RUN = 16
_LOOKBACK = 16
_FENCE_LINE = re.compile(r"( {0,3})(`{3,}|~{3,})")
_LANG = re.compile(r"[ \t]*([A-Za-z0-9_+#.\-]{1,24})(?=[ \t]|$)")
_FENCE_START = re.compile(r" {0,3}(?:```|~~~)")
_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")


@dataclass(frozen=True, slots=True)
class Fence:
    """An open fenced code block, as it must be closed and reopened."""

    indent: str
    run: str
    lang: str

    @property
    def markable(self) -> bool:
        return len(self.run) <= _MAX_RUN

    @property
    def reopen(self) -> str:
        return f"{self.indent}{self.run}{self.lang}\n" if self.markable else ""

    @property
    def close(self) -> str:
        return f"\n{self.indent}{self.run}" if self.markable else ""


_RESERVE = len(Fence("   ", "`" * _MAX_RUN, "").close)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One message: ``content`` is ``reopen + text[start:end] + close``."""

    content: str
    start: int
    end: int


def _fence_after(text: str, start: int, end: int, fence: Fence | None) -> Fence | None:
    """The fence open after the line ``text[start:end]``, given the one open before it."""
    match = _FENCE_LINE.match(text, start, end)
    if match is None:
        return fence
    indent, run = match.group(1), match.group(2)
    if fence is None:
        if run[0] == "`" and text.find("`", match.end(), end) != -1:
            return None
        lang = _LANG.match(text, match.end(), end)
        return Fence(indent, run, lang.group(1) if lang else "")
    closes = run[0] == fence.run[0] and len(run) >= len(fence.run)
    if closes and not text[match.end() : end].strip(" \t"):
        return None
    return fence


class _Lines:
    """Walks the lines of a text once, keeping the fence state after the lines passed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.next_start = 0
        self.fence: Fence | None = None

    def advance(self, position: int) -> Fence | None:
        """The fence open after every line that starts before ``position``."""
        text = self.text
        while self.next_start < position:
            end = text.find("\n", self.next_start)
            end = len(text) if end == -1 else end
            self.fence = _fence_after(text, self.next_start, end, self.fence)
            self.next_start = end + 1
        return self.fence


def _splits_a_character(text: str, cut: int) -> bool:
    """Would cutting before ``text[cut]`` split an emoji sequence or an accented letter?"""
    after, before = text[cut], text[cut - 1]
    return (
        after in _JOINERS
        or before == "\u200d"
        or unicodedata.combining(after) != 0
        or "\U0001f3fb" <= after <= "\U0001f3ff"
        or "\udc00" <= after <= "\udfff"
    )


def _looks_like_a_fence(text: str, start: int) -> bool:
    """Text starting a message mid-line must not read as a fence line it is not."""
    return _FENCE_START.match(text, start) is not None


def _hard_cut(text: str, start: int, cut: int) -> int:
    """Move a cut with no break to use back a little, off emoji and fence-like runs."""
    floor = max(start + 1, cut - _LOOKBACK)
    for candidate in range(cut, floor - 1, -1):
        if not (_splits_a_character(text, candidate) or _looks_like_a_fence(text, candidate)):
            return candidate
    return cut


def _cut_point(text: str, start: int, budget: int, lookback: int) -> tuple[int, int]:
    """Where to end a part: (its end, where the next begins), preferring line breaks."""
    low, high = start + max(1, budget - lookback), start + budget + 1
    newline = text.rfind("\n", low, high)
    if newline != -1:
        return newline, newline + 1
    space_end = high
    while (space := text.rfind(" ", low, space_end)) != -1:
        if not _looks_like_a_fence(text, space + 1):
            return space, space + 1
        space_end = space
    cut = _hard_cut(text, start, start + budget)
    return cut, cut


def split_chunks(text: str, limit: int = DISCORD_LIMIT) -> list[Chunk]:
    """The parts of ``text``, each with the span of the text it carries."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}")
    chunks: list[Chunk] = []
    lines = _Lines(text)
    lookback = limit // 4
    position, length = 0, len(text)
    while position < length:
        fence = lines.advance(position)
        prefix = fence.reopen if fence else ""
        if length - position <= limit - len(prefix):
            end = resume = length
        else:
            end, resume = _cut_point(text, position, limit - len(prefix) - _RESERVE, lookback)
        after = lines.advance(end)
        if text[position:end].strip():
            suffix = after.close if after and end < length else ""
            chunks.append(Chunk(prefix + text[position:end] + suffix, position, end))
        position = resume
    return chunks


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters with balanced fences."""
    return [chunk.content for chunk in split_chunks(text, limit)]


def open_fence(text: str) -> Fence | None:
    """The fence still open at the end of ``text``."""
    return _Lines(text).advance(len(text))


def close_open_fence(text: str) -> str:
    """Close a fence left open mid-stream, so a partial reply renders as it will at the end."""
    fence = open_fence(text)
    return text + fence.close if fence else text
