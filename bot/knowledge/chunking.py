"""Splitting a document into chunks: the unit that is indexed, ranked and shown to the model.

A chunk is a few hundred words, small enough that a handful fit in the model's context and
that a match means the passage is about the question, large enough to carry an answer. The
splits follow the document's own structure: Markdown headings first (a chunk never spans two
sections, so it knows its heading path), then paragraphs, then sentences, then words; a word
is cut only when it alone is longer than :data:`MAX_CHARS`. Every word of the input lands in
exactly one chunk, in order, which is what makes a passage quotable as the source's own text.

One pass over the lines and one over each paragraph's pieces: linear in the input, with no
pattern that can backtrack over user text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# About a third of a page: a passage the model can quote, four of them well under 2k tokens.
TARGET_WORDS = 250
# Hard bound on a chunk's text, whatever its words (a table, a URL list, a run of CJK).
MAX_CHARS = 2_000
# Each heading in a path is cut to this, so a path stays short whatever the document says.
MAX_HEADING_CHARS = 80
HEADING_SEPARATOR = " › "
_MAX_LEVEL = 6
_PARAGRAPH, _SPACE, _GLUED = "\n\n", " ", ""
# A sentence ends at ., ! or ? followed by whitespace: a lookbehind and one quantifier.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    """One indexed passage. ``heading`` is the path of headings it sits under, joined by
    :data:`HEADING_SEPARATOR`; empty before the first heading or in a document without
    any."""

    ordinal: int
    heading: str
    text: str


@dataclass(frozen=True)
class _Unit:
    text: str
    words: int
    separator: str  # what joins it to the unit before it in the same chunk


def split_document(text: str, *, markdown: bool = True) -> list[Chunk]:
    """``markdown=False`` for plain text and PDFs, where a line starting with ``#`` is just
    a line."""
    chunks: list[Chunk] = []
    for heading, lines in _sections(text, markdown):
        for piece in _pack(_units(lines)):
            chunks.append(Chunk(len(chunks), heading, piece))
    return chunks


def _heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and title (``## EU`` -> ``(2, "EU")``), else ``None``."""
    stripped = line.strip()
    level = len(stripped) - len(stripped.lstrip("#"))
    if not 1 <= level <= _MAX_LEVEL or stripped[level : level + 1] not in (" ", "\t"):
        return None
    title = stripped[level:].strip().rstrip("#").strip()
    if not title:
        return None
    if len(title) > MAX_HEADING_CHARS:
        title = title[: MAX_HEADING_CHARS - 1] + "…"
    return level, title


def _sections(text: str, markdown: bool) -> Iterator[tuple[str, list[str]]]:
    """The document as (heading path, lines) runs; a heading line opens its own section and
    stays in its text. Lines inside a fenced code block are never headings."""
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        found = None
        if markdown:
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced:
                found = _heading(line)
        if found is not None:
            if lines:
                yield _path_text(path), lines
            path = [entry for entry in path if entry[0] < found[0]] + [found]
            lines = []
        lines.append(line)
    if lines:
        yield _path_text(path), lines


def _path_text(path: list[tuple[int, str]]) -> str:
    return HEADING_SEPARATOR.join(title for _, title in path)


def _paragraphs(lines: list[str]) -> Iterator[str]:
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield "\n".join(block)
            block = []


def _units(lines: list[str]) -> Iterator[_Unit]:
    """Each paragraph whole if it fits a chunk, else its sentences, else their words."""
    for paragraph in _paragraphs(lines):
        yield from _fitting(paragraph, _PARAGRAPH, _SENTENCE_END.split(paragraph))


def _fitting(text: str, separator: str, smaller: Iterable[str]) -> Iterator[_Unit]:
    words = len(text.split())
    if words <= TARGET_WORDS and len(text) <= MAX_CHARS:
        yield _Unit(text, words, separator)
        return
    for index, part in enumerate(smaller):
        joiner = separator if index == 0 else _SPACE
        if words == 1:
            yield from _cut(part, joiner)
        else:
            yield from _fitting(part, joiner, part.split())


def _cut(word: str, separator: str) -> Iterator[_Unit]:
    """A single word longer than a chunk, in :data:`MAX_CHARS` pieces."""
    for start in range(0, len(word), MAX_CHARS):
        yield _Unit(word[start : start + MAX_CHARS], 1, separator if start == 0 else _GLUED)


def _pack(units: Iterable[_Unit]) -> Iterator[str]:
    """Greedy: units join the current chunk while it stays within both bounds."""
    parts: list[str] = []
    words = size = 0
    for unit in units:
        if parts and (
            words + unit.words > TARGET_WORDS
            or size + len(unit.separator) + len(unit.text) > MAX_CHARS
        ):
            yield "".join(parts)
            parts, words, size = [], 0, 0
        if parts:
            parts.append(unit.separator)
            size += len(unit.separator)
        parts.append(unit.text)
        words += unit.words
        size += len(unit.text)
    if parts:
        yield "".join(parts)
