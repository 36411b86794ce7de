"""The knowledge base's typed API: sources, their chunks, and full-text search.

:class:`KnowledgeStore` shares the bot's engine (:meth:`KnowledgeStore.sharing`), so it
adds no connections to the pool Heroku's plans count. Plain values go in and out: ids as
ints, text, aware datetimes, :class:`~bot.knowledge.chunking.Chunk` and
:class:`~bot.knowledge.search.Passage`.

Writes are one transaction each, and the bounds are checked inside it, after the old copy
of a source is gone: past ``max_sources`` or ``max_chunks`` the transaction is rolled
back, so a refused file leaves the old one in place and nothing half-indexed. Writes to
one guild's knowledge are serialized: on PostgreSQL by a transaction-scoped advisory lock
on the guild id (https://www.postgresql.org/docs/current/explicit-locking.html
#ADVISORY-LOCKS); on SQLite because each write transaction opens with a write (Python's
sqlite3 begins the transaction at the first ``INSERT``/``UPDATE``/``DELETE``), which takes
the database's one write lock before anything is counted.

Search is each database's own engine (the objects named in :mod:`bot.storage.tables`):
FTS5 ranked by ``bm25()`` on SQLite (https://www.sqlite.org/fts5.html#the_bm25_function,
the heading weighted twice the text), ``ts_rank`` over the generated ``tsvector`` on
PostgreSQL (https://www.postgresql.org/docs/current/textsearch-controls.html
#TEXTSEARCH-RANKING). A search reads only the asking guild's chunks.

Every call is bounded: reads by the storage timeout, indexing a source by ``index_timeout``
(thousands of rows). A database that does not answer raises :class:`StorageUnavailable`;
what to tell the person is the caller's choice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.knowledge.chunking import Chunk, split_document
from bot.knowledge.config import KnowledgeSettings
from bot.knowledge.refused import SourceRefused
from bot.knowledge.search import Passage, query_terms
from bot.storage import knowledge_sql as sql
from bot.storage.budget import UTC
from bot.storage.health import DATABASE_ERRORS
from bot.storage.knowledge_sql import MAX_TITLE_CHARS, chunks_t, sources_t, switches_t
from bot.storage.store import Storage, StorageUnavailable

T = TypeVar("T")
SourceKind = Literal["file", "channel"]
Switch = Literal["here", "dms"]

# Discord shows at most 25 autocomplete choices.
MAX_TITLE_CHOICES = 25
MAX_SEARCH_LIMIT = 50
# Indexing a file of thousands of chunks takes longer than one settings read may.
INDEX_SECONDS = 60.0


@dataclass(frozen=True)
class SourceInfo:
    """One source as ``/knowledge list`` shows it."""

    title: str
    kind: SourceKind
    channel_id: int | None
    bytes: int
    chunks: int
    indexed_at: dt.datetime


@dataclass(frozen=True)
class ChannelSource:
    """A channel whose messages are knowledge; ``last_message_id`` is where the last
    catch-up stopped (``None``: never caught up)."""

    guild_id: int
    channel_id: int
    title: str
    last_message_id: int | None


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


class KnowledgeStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        timeout: float,
        max_sources: int,
        max_chunks: int,
        index_timeout: float = INDEX_SECONDS,
        now: Callable[[], dt.datetime] = _now,
    ) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self.timeout = timeout
        self.index_timeout = max(index_timeout, timeout)
        self.max_sources = max_sources
        self.max_chunks = max_chunks
        self._now = now

    @classmethod
    def sharing(cls, storage: Storage, settings: KnowledgeSettings) -> KnowledgeStore:
        """On the bot's own engine and timeout; closed when the storage is."""
        return cls(
            storage.engine,
            timeout=storage.config.timeout,
            max_sources=settings.max_sources,
            max_chunks=settings.max_chunks,
        )

    # --- sources -----------------------------------------------------------------------

    async def replace_source(
        self,
        guild_id: int,
        title: str,
        kind: SourceKind,
        chunks: Sequence[Chunk],
        *,
        channel_id: int | None = None,
        size_bytes: int = 0,
    ) -> SourceInfo:
        """Index a source under ``title``, replacing the guild's source of that title if
        there is one. A channel source (``kind="channel"``, its ``channel_id``) usually
        starts with no chunks; its messages come through :meth:`upsert_message`. Raises
        :class:`SourceRefused` (nothing changed) or :class:`StorageUnavailable`."""
        title = sql.clean_title(title)
        if (kind == "channel") != (channel_id is not None):
            raise ValueError("a channel source needs its channel_id, and only it has one")
        if len(chunks) > self.max_chunks:
            raise SourceRefused(
                f"*{title}* makes {len(chunks)} passages; a server can hold at most "
                f"{self.max_chunks}. Split the file, or ask the bot's operator to raise "
                "KNOWLEDGE_MAX_CHUNKS."
            )
        at = self._now()

        async def replace(connection: AsyncConnection) -> SourceInfo:
            await self._lock(connection, guild_id)
            await connection.execute(delete(sources_t).where(*sql.titled(guild_id, title)))
            if channel_id is not None:
                await sql.refuse_if_channel_taken(connection, channel_id)
            sources = await sql.scalar(
                connection, select(func.count()).where(sources_t.c.guild_id == guild_id)
            )
            if sources >= self.max_sources:
                raise SourceRefused(
                    f"This server already has {sources} knowledge sources, the most it can "
                    "have; remove one first (`/knowledge remove`)."
                )
            await self._refuse_past_chunk_bound(connection, guild_id, len(chunks), title)
            source_id = await sql.scalar(
                connection,
                insert(sources_t)
                .values(
                    guild_id=guild_id, title=title, kind=kind, channel_id=channel_id,
                    bytes=size_bytes, chunk_count=len(chunks), indexed_at=at,
                )
                .returning(sources_t.c.id),
            )
            await sql.insert_chunks(connection, source_id, guild_id, chunks, None)
            return SourceInfo(title, kind, channel_id, size_bytes, len(chunks), at)

        return await self._write(f"indexing {title}", replace, self.index_timeout)

    async def remove_source(self, guild_id: int, title: str) -> bool:
        """Remove the source and (by the foreign key's cascade) its chunks; ``False`` when
        the guild has no source of that title."""

        async def remove(connection: AsyncConnection) -> bool:
            result = await connection.execute(delete(sources_t).where(*sql.titled(guild_id, title)))
            return bool(result.rowcount)

        return await self._write("removing a knowledge source", remove, self.index_timeout)

    async def list_sources(self, guild_id: int) -> list[SourceInfo]:
        async def load(connection: AsyncConnection) -> list[SourceInfo]:
            rows = await connection.execute(
                select(sources_t)
                .where(sources_t.c.guild_id == guild_id)
                .order_by(sources_t.c.title)
            )
            return [
                SourceInfo(
                    row.title, row.kind, row.channel_id, row.bytes, row.chunk_count,
                    _aware(row.indexed_at),
                )
                for row in rows
            ]

        return await self._read("listing knowledge sources", load)

    async def source_titles(
        self, guild_id: int, prefix: str, limit: int = MAX_TITLE_CHOICES
    ) -> list[str]:
        """Titles starting with ``prefix`` (any case), for autocomplete; ``%`` and ``_``
        in the prefix are literal."""
        pattern = sql.storable(prefix.lower()[:MAX_TITLE_CHARS])
        statement = (
            select(sources_t.c.title)
            .where(
                sources_t.c.guild_id == guild_id,
                func.lower(sources_t.c.title).startswith(pattern, autoescape=True),
            )
            .order_by(sources_t.c.title)
            .limit(max(1, min(limit, MAX_TITLE_CHOICES)))
        )

        async def load(connection: AsyncConnection) -> list[str]:
            return list((await connection.execute(statement)).scalars())

        return await self._read("reading knowledge titles", load)

    # --- search ------------------------------------------------------------------------

    async def search(self, guild_id: int, query: str, limit: int) -> list[Passage]:
        """The guild's best passages for ``query`` (a person's words, never read as query
        syntax), best first; empty when nothing matches."""
        terms = query_terms(query)
        if not terms:
            return []
        limit = max(1, min(limit, MAX_SEARCH_LIMIT))
        statement, values = (
            sql.postgres_search(terms) if self._postgres else sql.sqlite_search(terms)
        )

        async def load(connection: AsyncConnection) -> list[Passage]:
            parameters = {**values, "guild": guild_id, "limit": limit}
            rows = await connection.execute(statement, parameters)
            return [Passage(row.title, row.heading, row.text, float(row.rank)) for row in rows]

        return await self._read("searching knowledge", load)

    # --- channel sources ---------------------------------------------------------------

    async def upsert_message(
        self, guild_id: int, channel_id: int, message_id: int, content: str
    ) -> bool:
        """A new or edited message in a channel source: its chunks replace any it had
        (empty ``content`` leaves it with none). ``False`` when the channel is not a
        source. Raises :class:`SourceRefused` past the guild's chunk bound (the message is
        then not indexed, its old text no longer either)."""
        chunks = split_document(content, markdown=True)

        async def upsert(connection: AsyncConnection) -> bool:
            await self._lock(connection, guild_id)
            removed = await sql.delete_message_chunks(connection, guild_id, message_id)
            source_id = await sql.channel_source_id(connection, guild_id, channel_id)
            if source_id is None:
                return False
            await self._refuse_past_chunk_bound(connection, guild_id, len(chunks), None)
            await sql.insert_chunks(connection, source_id, guild_id, chunks, message_id)
            added = (len(chunks), sum(sql.utf8(chunk.text) for chunk in chunks))
            await self._count(connection, source_id, added, removed)
            return True

        return await self._write("indexing a channel message", upsert, self.timeout)

    async def delete_message(self, guild_id: int, channel_id: int, message_id: int) -> bool:
        """A deleted message: ``False`` when nothing of it was indexed."""

        async def remove(connection: AsyncConnection) -> bool:
            await self._lock(connection, guild_id)
            removed = await sql.delete_message_chunks(connection, guild_id, message_id)
            source_id = await sql.channel_source_id(connection, guild_id, channel_id)
            if source_id is None or removed == (0, 0):
                return False
            await self._count(connection, source_id, (0, 0), removed)
            return True

        return await self._write("removing a channel message", remove, self.timeout)

    async def channel_sources(self) -> list[ChannelSource]:
        """Every guild's channel sources, for the catch-up after a restart."""

        async def load(connection: AsyncConnection) -> list[ChannelSource]:
            rows = await connection.execute(
                select(sources_t)
                .where(sources_t.c.kind == "channel")
                .order_by(sources_t.c.guild_id, sources_t.c.channel_id)
            )
            return [
                ChannelSource(row.guild_id, row.channel_id, row.title, row.last_message_id)
                for row in rows
            ]

        return await self._read("listing channel sources", load)

    async def indexed_messages(self, guild_id: int, channel_id: int, since: int) -> set[int]:
        """The channel source's indexed messages from ``since`` on: what a catch-up that
        re-read them compares with, to remove those deleted meanwhile."""
        statement = (
            select(chunks_t.c.message_id).distinct()
            .join(sources_t, sources_t.c.id == chunks_t.c.source_id)
            .where(sources_t.c.guild_id == guild_id, sources_t.c.channel_id == channel_id,
                   chunks_t.c.message_id >= since)
        )

        async def load(connection: AsyncConnection) -> set[int]:
            return set((await connection.execute(statement)).scalars())

        return await self._read("reading indexed channel messages", load)

    async def mark_caught_up(self, guild_id: int, channel_id: int, message_id: int) -> None:
        """The channel is indexed up to ``message_id``. Never moves the mark back, so a
        late catch-up cannot undo a newer one. Live messages do not move it (one could
        arrive before the catch-up read the gap); the caller marks once it has read up to
        a message."""
        statement = (
            update(sources_t)
            .where(
                sources_t.c.guild_id == guild_id,
                sources_t.c.channel_id == channel_id,
                func.coalesce(sources_t.c.last_message_id, 0) < message_id,
            )
            .values(last_message_id=message_id)
        )

        async def mark(connection: AsyncConnection) -> None:
            await connection.execute(statement)

        await self._write("marking a channel caught up", mark, self.timeout)

    # --- where knowledge is used -------------------------------------------------------

    async def switch(self, guild_id: int, scope: Switch, place_id: int, enabled: bool) -> None:
        """``/knowledge here`` for a channel, or ``/knowledge dms`` (``place_id`` 0)."""
        key = (switches_t.c.guild_id == guild_id, switches_t.c.scope == scope,
               switches_t.c.place_id == place_id)

        async def save(connection: AsyncConnection) -> None:
            await connection.execute(delete(switches_t).where(*key))
            await connection.execute(insert(switches_t).values(
                guild_id=guild_id, scope=scope, place_id=place_id, enabled=enabled))

        await self._write("saving where knowledge is used", save, self.timeout)

    async def used_here(self, guild_id: int, places: Sequence[int]) -> tuple[bool, bool]:
        """Whether the guild has sources, and whether knowledge is on in the first of
        ``places`` (a thread, then its parent) that an admin switched (on where none was)."""

        async def load(connection: AsyncConnection) -> tuple[bool, bool]:
            held = select(func.count()).where(sources_t.c.guild_id == guild_id)
            if not await sql.scalar(connection, held):
                return False, False
            rows = await connection.execute(
                select(switches_t.c.place_id, switches_t.c.enabled).where(
                    switches_t.c.guild_id == guild_id, switches_t.c.scope == "here",
                    switches_t.c.place_id.in_(places),
                )
            )
            switched = {row.place_id: row.enabled for row in rows}
            return True, next((switched[p] for p in places if p in switched), True)

        return await self._read("reading where knowledge is used", load)

    async def dm_guilds(self, guild_ids: Sequence[int]) -> list[int]:
        """Of ``guild_ids``, those that switched DM knowledge on and have sources."""
        statement = (
            select(switches_t.c.guild_id).distinct()
            .join(sources_t, sources_t.c.guild_id == switches_t.c.guild_id)
            .where(switches_t.c.guild_id.in_(guild_ids), switches_t.c.scope == "dms",
                   switches_t.c.enabled.is_(True))
            .order_by(switches_t.c.guild_id)
        )

        async def load(connection: AsyncConnection) -> list[int]:
            return list((await connection.execute(statement)).scalars())

        return await self._read("reading DM knowledge", load)

    # --- plumbing ----------------------------------------------------------------------

    async def _lock(self, connection: AsyncConnection, guild_id: int) -> None:
        if self._postgres:
            await connection.execute(select(func.pg_advisory_xact_lock(guild_id)))

    async def _refuse_past_chunk_bound(
        self, connection: AsyncConnection, guild_id: int, adding: int, title: str | None
    ) -> None:
        held = await sql.scalar(
            connection,
            select(func.coalesce(func.sum(sources_t.c.chunk_count), 0)).where(
                sources_t.c.guild_id == guild_id
            ),
        )
        if held + adding <= self.max_chunks:
            return
        what = f"*{title}* makes" if title is not None else "This message makes"
        raise SourceRefused(
            f"{what} {adding} passages and the server holds {held} of at most "
            f"{self.max_chunks}; remove a source first (`/knowledge remove`)."
        )

    async def _count(
        self,
        connection: AsyncConnection,
        source_id: int,
        added: tuple[int, int],
        removed: tuple[int, int],
    ) -> None:
        await connection.execute(
            update(sources_t)
            .where(sources_t.c.id == source_id)
            .values(
                chunk_count=sources_t.c.chunk_count + added[0] - removed[0],
                bytes=sources_t.c.bytes + added[1] - removed[1],
                indexed_at=self._now(),
            )
        )

    async def _read(self, doing: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.timeout), self._engine.connect() as connection:
                return await work(connection)
        except DATABASE_ERRORS as error:
            raise StorageUnavailable(doing) from error

    async def _write(
        self, doing: str, work: Callable[[AsyncConnection], Awaitable[T]], seconds: float
    ) -> T:
        try:
            async with asyncio.timeout(seconds), self._engine.begin() as connection:
                return await work(connection)
        except DATABASE_ERRORS as error:
            raise StorageUnavailable(doing) from error


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands ``DateTime(timezone=True)`` back naive; the values are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
