"""The statements :class:`~bot.storage.knowledge.KnowledgeStore` runs, one small function
each, and the cleaning of what goes into them.

The two full-text searches are the only SQL written as text: FTS5's ``MATCH`` and
``bm25()`` and PostgreSQL's ``@@``, ``ts_rank`` and ``plainto_tsquery`` have no Core
constructs. Their shape depends only on the number of terms; every value is a bound
parameter, and the FTS5 query string is built by :func:`bot.knowledge.search.fts5_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.knowledge.chunking import Chunk
from bot.knowledge.refused import SourceRefused
from bot.knowledge.search import fts5_query
from bot.storage.tables import (
    FTS_TABLE,
    SEARCH_COLUMN,
    knowledge_chunks,
    knowledge_sources,
    knowledge_switches,
)

MAX_TITLE_CHARS = 200

chunks_t, sources_t, switches_t = knowledge_chunks, knowledge_sources, knowledge_switches


def clean_title(title: str) -> str:
    cleaned = " ".join(storable(title).split())
    if not cleaned:
        raise SourceRefused("A knowledge source needs a title.")
    if len(cleaned) > MAX_TITLE_CHARS:
        raise SourceRefused(
            f"A title can be at most {MAX_TITLE_CHARS} characters (this one has {len(cleaned)})."
        )
    return cleaned


def titled(guild_id: int, title: str) -> tuple[Any, ...]:
    return sources_t.c.guild_id == guild_id, sources_t.c.title == title


def storable(value: str) -> str:
    """Text both databases accept: a lone surrogate (JSON can carry one into a Discord
    message) becomes ``?``, and NUL, which PostgreSQL's ``text`` cannot hold, becomes the
    replacement character, instead of failing the whole write."""
    return value.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "\ufffd")


def utf8(value: str) -> int:
    return len(value.encode("utf-8", errors="replace"))


async def scalar(connection: AsyncConnection, statement: Any) -> int:
    return int((await connection.execute(statement)).scalar_one())


async def refuse_if_channel_taken(connection: AsyncConnection, channel_id: int) -> None:
    statement = select(sources_t.c.title).where(sources_t.c.channel_id == channel_id)
    taken = (await connection.execute(statement)).scalar_one_or_none()
    if taken is not None:
        raise SourceRefused(
            f"That channel is already a knowledge source, *{taken}*; remove it first to "
            "add it under another title."
        )


async def channel_source_id(
    connection: AsyncConnection, guild_id: int, channel_id: int
) -> int | None:
    return (
        await connection.execute(
            select(sources_t.c.id).where(
                sources_t.c.guild_id == guild_id, sources_t.c.channel_id == channel_id
            )
        )
    ).scalar_one_or_none()


async def delete_message_chunks(
    connection: AsyncConnection, guild_id: int, message_id: int
) -> tuple[int, int]:
    """Remove one message's chunks; returns how many and their UTF-8 bytes."""
    rows = await connection.execute(
        delete(chunks_t)
        .where(chunks_t.c.guild_id == guild_id, chunks_t.c.message_id == message_id)
        .returning(chunks_t.c.text)
    )
    texts = list(rows.scalars())
    return len(texts), sum(utf8(value) for value in texts)


async def insert_chunks(
    connection: AsyncConnection,
    source_id: int,
    guild_id: int,
    chunks: Sequence[Chunk],
    message_id: int | None,
) -> None:
    if not chunks:
        return
    await connection.execute(
        insert(chunks_t),
        [
            {
                "source_id": source_id, "guild_id": guild_id, "ordinal": chunk.ordinal,
                "heading": storable(chunk.heading), "text": storable(chunk.text),
                "message_id": message_id,
            }
            for chunk in chunks
        ],
    )


def sqlite_search(terms: list[str]) -> tuple[Any, dict[str, Any]]:
    rank = f"bm25({FTS_TABLE}, 2.0, 1.0)"
    statement = text(
        f"SELECT s.title, c.heading, c.text, -{rank} AS rank "
        f"FROM {FTS_TABLE} JOIN knowledge_chunks AS c ON c.id = {FTS_TABLE}.rowid "
        "JOIN knowledge_sources AS s ON s.id = c.source_id "
        f"WHERE {FTS_TABLE} MATCH :match AND c.guild_id = :guild "
        f"ORDER BY {rank}, c.id LIMIT :limit"
    )
    return statement, {"match": fts5_query(terms)}


def postgres_search(terms: list[str]) -> tuple[Any, dict[str, Any]]:
    """Each term its own ``plainto_tsquery`` over a bound parameter, ORed with the
    tsquery ``||`` operator; only the number of terms shapes the SQL."""
    query = " || ".join(f"plainto_tsquery('english', :t{index})" for index in range(len(terms)))
    statement = text(
        f"SELECT s.title, c.heading, c.text, ts_rank(c.{SEARCH_COLUMN}, q.query) AS rank "
        "FROM knowledge_chunks AS c JOIN knowledge_sources AS s ON s.id = c.source_id "
        f"CROSS JOIN (SELECT {query} AS query) AS q "
        f"WHERE c.guild_id = :guild AND c.{SEARCH_COLUMN} @@ q.query "
        "ORDER BY rank DESC, c.id LIMIT :limit"
    )
    return statement, {f"t{index}": term for index, term in enumerate(terms)}
