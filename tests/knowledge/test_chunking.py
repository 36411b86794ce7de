"""Properties of the chunker over generated documents: the bounds, nothing lost or invented,
headings carried, deterministic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.chunking import (
    HEADING_SEPARATOR,
    MAX_CHARS,
    MAX_HEADING_CHARS,
    TARGET_WORDS,
    Chunk,
    split_document,
)

words = st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=14)
separators = st.sampled_from([" ", " ", " ", "\n", "\n\n", ". ", "! ", "? ", "\t", "\u2028"])
# Mostly short words, now and then one longer than a chunk.
long_words = st.integers(MAX_CHARS - 5, 2 * MAX_CHARS + 7).map(lambda size: "y" * size)


def joined(pairs: list[tuple[str, str]]) -> str:
    return "".join(word + sep for word, sep in pairs)


documents = st.lists(st.tuples(words | long_words, separators), max_size=1500).map(joined)
short_documents = st.lists(st.tuples(words, separators), max_size=1500).map(joined)


def check_bounds(chunks: list[Chunk]) -> None:
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert 0 < len(chunk.text) <= MAX_CHARS
        assert len(chunk.text.split()) <= TARGET_WORDS
        assert chunk.text.strip()


@given(documents, st.booleans())
def test_every_chunk_is_within_the_bounds_and_the_characters_come_back_in_order(
    text: str, markdown: bool
) -> None:
    chunks = split_document(text, markdown=markdown)
    check_bounds(chunks)
    assert "".join("".join(chunk.text.split()) for chunk in chunks) == "".join(text.split())


@given(st.text(max_size=4000), st.booleans())
def test_any_text_keeps_its_characters_and_the_bounds(text: str, markdown: bool) -> None:
    chunks = split_document(text, markdown=markdown)
    check_bounds(chunks)
    assert "".join("".join(chunk.text.split()) for chunk in chunks) == "".join(text.split())


@given(short_documents)
def test_words_no_longer_than_a_chunk_come_back_whole_and_in_order(text: str) -> None:
    """Nothing lost, nothing invented, nothing cut mid-word."""
    chunks = split_document(text)
    assert [word for chunk in chunks for word in chunk.text.split()] == text.split()


@given(documents)
def test_splitting_is_deterministic(text: str) -> None:
    assert split_document(text) == split_document(text)


titles = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=100)
paragraph = st.lists(st.sampled_from(["refund", "within", "days.", "EU", "card", "x"]),
                     min_size=1, max_size=400).map(" ".join)
sections = st.lists(
    st.tuples(st.integers(1, 6), titles, st.lists(paragraph, max_size=3)), max_size=8
)


@given(st.lists(paragraph, max_size=2), sections)
def test_each_chunk_carries_the_heading_path_of_its_section(
    preamble: list[str], outline: list[tuple[int, str, list[str]]]
) -> None:
    """Against a reference model of Markdown's heading levels: a section's words are the
    chunks' words under its path, in order, and a chunk never spans two sections."""
    lines = [*preamble]
    expected: list[tuple[str, list[str]]] = [("", " ".join(preamble).split())]
    path: list[tuple[int, str]] = []
    for level, title, paragraphs in outline:
        lines.append(f"{'#' * level} {title}")
        shown = title if len(title) <= MAX_HEADING_CHARS else title[: MAX_HEADING_CHARS - 1] + "…"
        path = [entry for entry in path if entry[0] < level] + [(level, shown)]
        words_here = f"{'#' * level} {title}".split() + " ".join(paragraphs).split()
        expected.append((HEADING_SEPARATOR.join(t for _, t in path), words_here))
        lines += paragraphs
    text = "\n\n".join(lines)

    chunks = split_document(text)
    check_bounds(chunks)
    got: list[tuple[str, list[str]]] = []
    for chunk in chunks:
        if got and got[-1][0] == chunk.heading:
            got[-1][1].extend(chunk.text.split())
        else:
            got.append((chunk.heading, chunk.text.split()))
    merged: list[tuple[str, list[str]]] = []
    for heading, section_words in expected:
        if not section_words:
            continue
        if merged and merged[-1][0] == heading:
            merged[-1][1].extend(section_words)
        else:
            merged.append((heading, list(section_words)))
    assert got == merged


def test_headings_nest_and_unwind_and_code_fences_hide_them() -> None:
    text = (
        "Intro line.\n\n# Refunds\n\nThirty days.\n\n## EU\n\nFourteen days.\n\n"
        "```\n# not a heading\n```\n\n# Shipping\n\nTwo days.\n"
    )
    assert [(chunk.heading, chunk.text) for chunk in split_document(text)] == [
        ("", "Intro line."),
        ("Refunds", "# Refunds\n\nThirty days."),
        ("Refunds › EU", "## EU\n\nFourteen days.\n\n```\n# not a heading\n```"),
        ("Shipping", "# Shipping\n\nTwo days."),
    ]
    assert {chunk.heading for chunk in split_document(text, markdown=False)} == {""}


def test_a_long_section_splits_at_paragraphs_then_sentences() -> None:
    sentence = "Refunds go back to the card used for the purchase. "
    paragraph_words = len(sentence.split()) * 20  # 200 words: one paragraph fits
    text = "# Policy\n\n" + "\n\n".join([sentence * 20] * 3) + "\n\n" + sentence * 60
    chunks = split_document(text)
    assert all(chunk.heading == "Policy" for chunk in chunks)
    # Whole paragraphs while they fit, then the oversized one by sentences.
    assert chunks[1].text == (sentence * 20).strip()
    assert len(chunks[0].text.split()) == 2 + paragraph_words
    assert all(chunk.text.endswith(".") for chunk in chunks)
    assert [w for c in chunks for w in c.text.split()] == text.split()


def test_adversarial_inputs_stay_bounded() -> None:
    """A megabyte without whitespace, and a hundred thousand one-word sentences."""
    for text in ("z" * 1_000_000, "a. " * 100_000, "#" * 1_000_000, "# h\n" * 50_000):
        chunks = split_document(text)
        check_bounds(chunks)
        assert "".join("".join(c.text.split()) for c in chunks) == "".join(text.split())
