"""Turning a question into a full-text query, checked against SQLite's real FTS5 parser, and
the passages as the model reads them."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.search import (
    MAX_TERM_CHARS,
    MAX_TERMS,
    NO_PASSAGE,
    PREAMBLE,
    STOP_WORDS,
    Passage,
    format_passages,
    fts5_query,
    query_terms,
    sources_named,
)

ATTACKS = ['"', "*", "NEAR(", "OR", "-", ":", "heading: refund", 'refund" OR "x', "refund*",
           "NOT refund", "a & b | !c <-> d", "'; DROP TABLE knowledge_chunks; --", "^refund",
           "(refund", "refund)", "+refund", "{heading text}: refund"]


@pytest.fixture(scope="module")
def fts5() -> Iterator[sqlite3.Connection]:
    """SQLite's own FTS5, with the bot's tokenizer, holding one passage."""
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(heading, text, tokenize='porter unicode61')"
    )
    connection.execute("INSERT INTO t VALUES ('Refunds', 'Refunds take thirty days.')")
    yield connection
    connection.close()


def matches(connection: sqlite3.Connection, question: str) -> int:
    query = fts5_query(query_terms(question))
    if not query:
        return 0
    return len(connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,)).fetchall())


@given(st.text(max_size=3000))
def test_terms_are_bounded_plain_distinct_words(question: str) -> None:
    terms = query_terms(question)
    assert len(terms) <= MAX_TERMS
    assert len(set(terms)) == len(terms)
    for term in terms:
        assert re.fullmatch(r"\w+", term)
        assert term == term.lower()
        assert len(term) <= MAX_TERM_CHARS
        assert term not in STOP_WORDS


@given(st.text(max_size=500))
def test_no_question_is_read_as_fts5_syntax(fts5: sqlite3.Connection, question: str) -> None:
    """FTS5 parses every query built from any text: an operator would either raise a
    syntax error here or change what matches."""
    assert matches(fts5, question) == (1 if {"refund", "refunds", "take", "thirty", "days"}
                                       & set(query_terms(question)) else 0)


# Any character SQLite can be handed as UTF-8 text.
storable = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])


@given(st.lists(st.text(storable, min_size=1), max_size=8))
def test_quoting_holds_for_any_term_even_with_quotes(
    fts5: sqlite3.Connection, terms: list[str]
) -> None:
    query = fts5_query(terms)
    if query:
        fts5.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,)).fetchall()
    assert query.count('"') == sum(2 + 2 * term.count('"') for term in terms)


@pytest.mark.parametrize("attack", ATTACKS)
def test_operator_characters_are_harmless(fts5: sqlite3.Connection, attack: str) -> None:
    expected = 1 if "refund" in attack.lower() else 0
    assert matches(fts5, attack) == expected


def test_common_words_are_dropped_and_the_rest_kept_in_order() -> None:
    assert query_terms("How do I get a REFUND for my order? refund, Refund!") == [
        "get", "refund", "order"
    ]
    assert query_terms("who are you") == []
    assert query_terms(" ".join(f"w{i}" for i in range(40))) == [f"w{i}" for i in range(MAX_TERMS)]


passages = st.lists(
    st.builds(Passage, st.text(min_size=1, max_size=40), st.text(max_size=60),
              st.text(max_size=4000), st.floats(allow_nan=False)),
    max_size=8,
)


@given(passages, st.integers(1, 9000))
def test_the_model_gets_bounded_passages_under_their_sources(
    found: list[Passage], limit: int
) -> None:
    shown = format_passages(found, limit)
    assert len(shown) <= limit
    if not found:
        assert shown == NO_PASSAGE[:limit]
        return
    assert shown.startswith(PREAMBLE[:limit])
    used = len(PREAMBLE)
    for number, passage in enumerate(found, 1):
        where = f" › {passage.heading}" if passage.heading else ""
        block = f"\n\n[{number}] from *{passage.source}*{where}\n{passage.text}"
        if used + len(block) > limit:
            break
        assert block in shown
        used += len(block)


def test_a_passage_that_does_not_fit_is_cut_and_the_rest_left_out() -> None:
    big = Passage("Refund policy", "Refunds › EU", "word " * 2000, 2.0)
    other = Passage("Shipping", "", "Two days.", 1.0)
    shown = format_passages([big, other], 1000)
    assert len(shown) == 1000
    assert "[1] from *Refund policy* › Refunds › EU\nword word" in shown
    assert shown.endswith("…")
    assert "Shipping" not in shown


@given(passages)
def test_sources_are_named_once_best_first(found: list[Passage]) -> None:
    named = sources_named(found)
    assert len(named) == len(set(named))
    assert set(named) == {passage.source for passage in found}
    assert named == sorted(named, key=[p.source for p in found].index)
