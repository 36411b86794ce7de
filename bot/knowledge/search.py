"""From a person's question to a full-text query, and from ranked passages to the model.

The question goes to the database's own full-text engine, whose query languages have
operators (FTS5: ``"``, ``*``, ``NEAR(``, ``OR``, ``NOT``, ``-``, ``column:``; PostgreSQL's
``to_tsquery``: ``&``, ``|``, ``!``, ``<->``). A question must never be read as one: it is
cut into words here (``\\w+``, so no operator character survives), and each word is then
quoted for FTS5 (``"refund"``) or given to PostgreSQL's ``plainto_tsquery`` as a bound
parameter, which ignores operators. The words are ORed: bm25 and ``ts_rank`` put passages
with more of them first, and a passage that misses one word of a long question is still
found. Common English words are dropped first: they would match nearly every chunk and
cost a ranking pass over all of them while adding nothing to the order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Only the start of a very long question is searched.
MAX_QUESTION_CHARS = 1_000
MAX_TERMS = 12
MAX_TERM_CHARS = 40
# What the model is given for one question, all passages together.
MAX_CONTEXT_CHARS = 6_000
NO_PASSAGE = "No passage in this server's knowledge base matches that."
PREAMBLE = (
    "Passages from this server's knowledge base, best match first. Answer from them when "
    "they answer the question, and name the source you used in italics (from *Title*)."
)
_WORD = re.compile(r"\w+")
_STOP_WORD_TEXT = """a an and are as at be but by can could did do does for from had has
have how i if in into is it its me my no not of on or our so that the their them then there
these they this to was we were what when where which who why will with would you your"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


@dataclass(frozen=True)
class Passage:
    """One ranked chunk: ``rank`` is higher for a better match (comparable only within one
    search)."""

    source: str
    heading: str
    text: str
    rank: float


def query_terms(question: str) -> list[str]:
    """The question's distinct words, lower-cased, without common English words; at most
    :data:`MAX_TERMS`, each at most :data:`MAX_TERM_CHARS` characters."""
    terms: list[str] = []
    for match in _WORD.finditer(question[:MAX_QUESTION_CHARS]):
        term = match.group().lower()[:MAX_TERM_CHARS]
        if term in STOP_WORDS or term in terms or not any(c.isalnum() for c in term):
            continue
        terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return terms


def fts5_query(terms: Iterable[str]) -> str:
    """An FTS5 query matching any of ``terms``, each a quoted string: inside quotes FTS5
    reads no operator, and a ``"`` is escaped by doubling it
    (https://www.sqlite.org/fts5.html#fts5_strings)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def sources_named(passages: Iterable[Passage]) -> list[str]:
    """The distinct source titles, best-ranked first: what an answer's analytics list."""
    return list(dict.fromkeys(passage.source for passage in passages))


def format_passages(passages: Sequence[Passage], max_chars: int = MAX_CONTEXT_CHARS) -> str:
    """The passages as the model reads them, each under its source's title and heading,
    never longer than ``max_chars`` (a passage that does not fit whole is cut)."""
    if not passages:
        return NO_PASSAGE[:max_chars]
    blocks = [PREAMBLE]
    used = len(PREAMBLE)
    for number, passage in enumerate(passages, 1):
        where = f" › {passage.heading}" if passage.heading else ""
        label = f"\n\n[{number}] from *{passage.source}*{where}\n"
        room = max_chars - used - len(label)
        if room <= 0:
            break
        text = passage.text if len(passage.text) <= room else passage.text[: room - 1] + "…"
        blocks += [label, text]
        used += len(label) + len(text)
    return "".join(blocks)[:max_chars]
