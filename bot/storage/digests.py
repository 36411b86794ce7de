"""What the Greenflash read-back commands keep: each guild's digest channel, the personas a
guild has used, and the leases that let one worker of several post each daily digest.

:class:`Digests` shares the bot's engine (:meth:`Digests.sharing`), like the knowledge
store, so it adds no connection to the pool. Every call is bounded by the storage timeout;
a database that does not answer raises :class:`~bot.storage.store.StorageUnavailable`.

A lease is a row of ``leases`` (revision 0004) per job: ``digest:<guild id>``. Taking it is
one statement, ``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE`` the held lease has
expired and the job is not yet done for this period, ``RETURNING`` the row only when this
worker got it. PostgreSQL runs a conflicting upsert against the committed row, waiting for
a concurrent one to finish and re-checking the ``WHERE`` then
(https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT), and SQLite
serializes writers on the database lock (https://www.sqlite.org/lang_upsert.html), so of
several workers exactly one gets a row back, without any lock of our own. The worker that
posted records the period (the UTC date) in ``done_for``, so a worker that comes later that
day, or after the lease expired, finds the job done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.budget import UTC
from bot.storage.health import DATABASE_ERRORS
from bot.storage.store import Storage, StorageUnavailable
from bot.storage.tables import guild_settings, leases, setting_changes

T = TypeVar("T")

# A worker that took a lease and died frees it after this long.
LEASE_SECONDS = 600.0
# More guilds with a digest than one worker posts to in a day would be a different design.
MAX_DIGEST_GUILDS = 5_000


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def digest_lease(guild_id: int) -> str:
    return f"digest:{guild_id}"


class Digests:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        timeout: float,
        now: Callable[[], dt.datetime] = _now,
    ) -> None:
        self._engine = engine
        self._insert = postgres_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._timeout = timeout
        self._now = now

    @classmethod
    def sharing(cls, storage: Storage, now: Callable[[], dt.datetime] = _now) -> Digests:
        """On the bot's own engine and timeout; closed when the storage is."""
        return cls(storage.engine, timeout=storage.config.timeout, now=now)

    # --- the digest channels -------------------------------------------------------------

    async def channels(self) -> dict[int, int]:
        """Every guild's digest channel, by guild."""

        async def load(connection: AsyncConnection) -> dict[int, int]:
            rows = await connection.execute(
                select(guild_settings.c.guild_id, guild_settings.c.digest_channel_id)
                .where(guild_settings.c.digest_channel_id.is_not(None))
                .order_by(guild_settings.c.guild_id)
                .limit(MAX_DIGEST_GUILDS)
            )
            return {row.guild_id: row.digest_channel_id for row in rows}

        return await self._run("reading the digest channels", load)

    # --- the personas a guild has used --------------------------------------------------

    async def personas_used(self, guild_id: int, limit: int) -> list[str]:
        """The distinct persona texts admins have set in this guild (the change log's
        ``persona`` rows, so a persona since replaced or cleared still counts), the most
        recently set first, at most ``limit``."""
        latest = func.max(setting_changes.c.id)

        async def load(connection: AsyncConnection) -> list[str]:
            rows = await connection.execute(
                select(setting_changes.c.new_value)
                .where(
                    setting_changes.c.guild_id == guild_id,
                    setting_changes.c.setting == "persona",
                    setting_changes.c.new_value.is_not(None),
                )
                .group_by(setting_changes.c.new_value)
                .order_by(latest.desc())
                .limit(limit)
            )
            return [row.new_value for row in rows]

        return await self._run("reading the personas used", load)

    # --- leases --------------------------------------------------------------------------

    async def take(self, name: str, holder: str, period: str,
                   seconds: float = LEASE_SECONDS) -> bool:
        """Whether ``holder`` now holds the lease ``name`` for ``period``: nobody held it,
        or the last holder's lease expired without finishing ``period``."""
        now = self._now()
        insert = self._insert(leases).values(
            name=name, holder=holder, expires_at=now + dt.timedelta(seconds=seconds),
            done_for=None,
        )
        statement = insert.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
            where=(leases.c.expires_at <= now)
            & (leases.c.done_for.is_(None) | (leases.c.done_for != period)),
        ).returning(leases.c.holder)

        async def claim(connection: AsyncConnection) -> bool:
            got: str | None = (await connection.execute(statement)).scalar_one_or_none()
            return got == holder

        return await self._run(f"taking the lease {name}", claim, write=True)

    async def finish(self, name: str, holder: str, period: str) -> bool:
        """Record ``period`` as done and free the lease; ``False`` when ``holder`` no
        longer held it (it expired and another worker took it)."""
        now = self._now()

        async def done(connection: AsyncConnection) -> bool:
            result = await connection.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(done_for=period, expires_at=now)
            )
            return bool(result.rowcount)

        return await self._run(f"finishing the lease {name}", done, write=True)

    # --- plumbing ------------------------------------------------------------------------

    async def _run(
        self, doing: str, work: Callable[[AsyncConnection], Awaitable[T]], *,
        write: bool = False,
    ) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                if write:
                    async with self._engine.begin() as connection:
                        return await work(connection)
                async with self._engine.connect() as connection:
                    return await work(connection)
        except DATABASE_ERRORS as error:
            raise StorageUnavailable(doing) from error
