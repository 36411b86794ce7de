"""The typed API the bot uses: per-channel settings, budgets and usage, behind a cache.

Reads (:meth:`Storage.settings_for`, :meth:`Storage.check_budget`) are answered from memory
when the value is younger than ``SETTINGS_CACHE_SECONDS`` (30 s by default). An older
value is still answered at once while one background read refreshes it, so a reply waits
on the database only the first time a channel, guild or person is seen. Writes through
this process update the cache at once; writes by other processes are seen within the TTL.
When the database fails, a read gives the last value this process saw, or the defaults,
and a budget that cannot be read is not enforced; :class:`Health` logs that once. Writes
(admin commands) raise :class:`StorageUnavailable` so the admin hears it was not saved.
Usage is counted with one ``INSERT ... ON CONFLICT DO UPDATE`` per reply, atomic in the
database, so any number of worker processes share one count.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.budget import (
    UTC,
    Budget,
    Usage,
    effective_budget,
    exhausted,
    reset_time,
    usage_day,
)
from bot.storage.cache import TTLCache
from bot.storage.changes import (
    Change,
    channel_row,
    guild_row,
    recent_changes,
    save_setting,
    select_one,
)
from bot.storage.channels import ChannelRow, ChannelSettings, GuildRow, clean_persona, resolve
from bot.storage.config import StorageConfig
from bot.storage.engine import build_engine
from bot.storage.health import DATABASE_ERRORS, Health
from bot.storage.outbox import OutboxStore
from bot.storage.schema import SchemaState, engine_state, upgrade_engine
from bot.storage.tables import channel_settings, daily_usage, guild_settings

T = TypeVar("T")

# Usage in DMs counts under this guild id; Discord never issues snowflake 0.
DM_GUILD = 0
# After a failure, how long callers get defaults before the database is tried again.
RETRY_SECONDS = 15.0


class StorageUnavailable(Exception):
    """A change could not be saved (the database did not answer in time)."""


@dataclass(frozen=True)
class BudgetCheck:
    budget: Budget
    usage: Usage | None  # None: the database could not say, so the budget is not enforced
    resets_at: dt.datetime

    @property
    def over(self) -> bool:
        return self.usage is not None and exhausted(self.budget, self.usage)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


class Storage:
    def __init__(
        self,
        config: StorageConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.config = config
        self.url = config.engine_url()
        self._engine = build_engine(self.url, config.timeout)
        self._insert = sqlite_insert if self.url.get_backend_name() == "sqlite" else postgres_insert
        self._cache: TTLCache[Hashable, Any] = TTLCache(config.cache_seconds, clock=clock)
        self._health = Health(RETRY_SECONDS, clock)
        self._refreshing: dict[Hashable, asyncio.Task[None]] = {}
        self._charges: set[asyncio.Task[Usage | None]] = set()
        self._now = now
        self.outbox = OutboxStore(self._engine, config.timeout)

    async def prepare(self) -> SchemaState | None:
        """At start-up: bring an embedded SQLite file up to date (nobody else will), check
        any other database, and prune usage past the retention window. ``None`` when the
        database does not answer: the bot then runs on defaults."""
        try:
            async with asyncio.timeout(self.config.timeout):
                state = await engine_state(self._engine)
            if state is SchemaState.BEHIND and self.url.get_backend_name() == "sqlite":
                await upgrade_engine(self._engine)
                state = SchemaState.CURRENT
            if state is SchemaState.CURRENT:
                await self.prune_usage()
        except DATABASE_ERRORS as error:
            self._health.failed(error, "checking the schema")
            return None
        return state

    async def close(self) -> None:
        await self.settled()
        await self._engine.dispose()

    async def settled(self) -> None:
        """Wait for the background refreshes and charges in flight."""
        await asyncio.gather(*self._refreshing.values(), *self._charges, return_exceptions=True)

    def reset_time(self) -> dt.datetime:
        return reset_time(self._now())

    # --- reads -------------------------------------------------------------------------

    async def settings_for(
        self, guild_id: int | None, channel_id: int, parent_id: int | None = None
    ) -> ChannelSettings:
        """The persona and model in effect in ``channel_id`` (a thread passes its parent's
        id). DMs have no admin, so they always get the defaults."""
        if guild_id is None:
            return resolve(
                channel_id, None, parent_id=None, parent=None, guild=None,
                allowlist=self.config.model_allowlist,
            )
        channel = await self._channel(channel_id)
        parent = await self._channel(parent_id) if parent_id is not None else None
        guild = await self._guild(guild_id)
        return resolve(
            channel_id, channel, parent_id=parent_id, parent=parent, guild=guild,
            allowlist=self.config.model_allowlist,
        )

    async def budget_for(self, guild_id: int | None) -> Budget:
        guild = await self._guild(guild_id) if guild_id is not None else None
        stored = guild.budget if guild is not None else None
        return effective_budget(stored, self.config.default_budget)

    async def usage(self, guild_id: int | None, user_id: int) -> Usage | None:
        """Today's usage (UTC day); ``None`` when the database cannot say."""
        gid = DM_GUILD if guild_id is None else guild_id
        day = usage_day(self._now())

        async def load(connection: AsyncConnection) -> Usage:
            row = (
                await connection.execute(
                    select(daily_usage.c.tokens, daily_usage.c.messages).where(
                        daily_usage.c.guild_id == gid,
                        daily_usage.c.user_id == user_id,
                        daily_usage.c.day == day,
                    )
                )
            ).one_or_none()
            return Usage() if row is None else Usage(row.tokens, row.messages)

        return await self._cached(("usage", gid, user_id, day), load, None, "reading usage")

    async def check_budget(self, guild_id: int | None, user_id: int) -> BudgetCheck:
        """Before a model call: is this person past today's budget?"""
        budget = await self.budget_for(guild_id)
        usage = None if budget.unlimited else await self.usage(guild_id, user_id)
        return BudgetCheck(budget, usage, self.reset_time())

    async def recent_changes(self, guild_id: int, limit: int = 10) -> list[Change]:
        """The guild's latest changes, newest first (not cached: admins ask rarely)."""

        async def load(connection: AsyncConnection) -> list[Change]:
            return await recent_changes(connection, guild_id, limit)

        return await self._write("reading the change log", load)

    # --- writes ------------------------------------------------------------------------

    async def charge(
        self, guild_id: int | None, user_id: int, *, tokens: int, messages: int = 1
    ) -> Usage | None:
        """Add one reply's usage to today's count and return the new total; ``None`` (and
        nothing counted) when the database does not answer."""
        if tokens < 0 or messages < 0:
            raise ValueError("usage cannot be negative")
        gid = DM_GUILD if guild_id is None else guild_id
        day = usage_day(self._now())
        if not self._health.worth_trying():
            return None
        insert = self._insert(daily_usage).values(
            guild_id=gid, user_id=user_id, day=day, tokens=tokens, messages=messages
        )
        statement = insert.on_conflict_do_update(
            index_elements=[daily_usage.c.guild_id, daily_usage.c.user_id, daily_usage.c.day],
            set_={
                "tokens": daily_usage.c.tokens + insert.excluded.tokens,
                "messages": daily_usage.c.messages + insert.excluded.messages,
            },
        ).returning(daily_usage.c.tokens, daily_usage.c.messages)

        async def add(connection: AsyncConnection) -> Usage:
            row = (await connection.execute(statement)).one()
            return Usage(row.tokens, row.messages)

        try:
            usage = await self._run(add, write=True)
        except DATABASE_ERRORS as error:
            self._health.failed(error, "counting usage")
            return None
        self._cache.put(("usage", gid, user_id, day), usage)
        return usage

    def charge_later(self, guild_id: int | None, user_id: int, *, tokens: int) -> None:
        """After a reply: count it without holding the reply up. The task is held here
        (asyncio keeps only weak references) and :meth:`close` waits for it."""
        task = asyncio.create_task(self.charge(guild_id, user_id, tokens=tokens))
        self._charges.add(task)
        task.add_done_callback(self._charges.discard)

    async def set_persona(self, guild_id: int, channel_id: int, persona: str, *, by: int) -> Change:
        """Raises ``ValueError`` (empty or too long) or :class:`StorageUnavailable`."""
        return await self._save_channel(guild_id, channel_id, "persona", clean_persona(persona), by)

    async def clear_persona(self, guild_id: int, channel_id: int, *, by: int) -> Change:
        return await self._save_channel(guild_id, channel_id, "persona", None, by)

    async def set_threads(self, guild_id: int, channel_id: int, on: bool, *, by: int) -> Change:
        """``/threads on|off``: whether questions in the channel open their own thread."""
        return await self._save_channel(guild_id, channel_id, "threads", on, by)

    async def set_model(
        self, guild_id: int, channel_id: int | None, model: str, *, by: int
    ) -> Change:
        """For one channel, or the whole guild with ``channel_id=None``; raises
        ``ValueError`` for a model outside the allowlist."""
        if model not in self.config.model_allowlist:
            raise ValueError(f"`{model}` is not one of the models this bot may use.")
        if channel_id is not None:
            return await self._save_channel(guild_id, channel_id, "model", model, by)
        return await self._save_guild(guild_id, {"model": model}, "model", by)

    async def set_budget(
        self, guild_id: int, *, tokens: int | None, messages: int | None, by: int
    ) -> Change:
        """``None`` follows the operator default, ``0`` is unlimited."""
        if (tokens or 0) < 0 or (messages or 0) < 0:
            raise ValueError("A budget cannot be negative.")
        values = {"budget_tokens": tokens, "budget_messages": messages}
        return await self._save_guild(guild_id, values, "budget", by)

    async def prune_usage(self) -> int:
        """Forget usage older than ``usage_retention_days``; returns the rows removed."""
        cutoff = usage_day(self._now()) - dt.timedelta(days=self.config.usage_retention_days)

        async def prune(connection: AsyncConnection) -> int:
            result = await connection.execute(delete(daily_usage).where(daily_usage.c.day < cutoff))
            return result.rowcount

        return await self._run(prune, write=True)

    # --- plumbing ----------------------------------------------------------------------

    async def _channel(self, channel_id: int) -> ChannelRow | None:
        async def load(connection: AsyncConnection) -> ChannelRow | None:
            return channel_row(await select_one(connection, channel_settings, channel_id))

        return await self._cached(("channel", channel_id), load, None, "reading channel settings")

    async def _guild(self, guild_id: int) -> GuildRow | None:
        async def load(connection: AsyncConnection) -> GuildRow | None:
            return guild_row(await select_one(connection, guild_settings, guild_id))

        return await self._cached(("guild", guild_id), load, None, "reading guild settings")

    async def _save_channel(
        self, guild_id: int, channel_id: int, column: str, value: str | bool | None, by: int
    ) -> Change:
        change, row = await self._save(
            channel_settings, {"channel_id": channel_id, "guild_id": guild_id}, {column: value},
            setting=column, guild_id=guild_id, channel_id=channel_id, by=by,
        )
        self._cache.put(("channel", channel_id), channel_row(row))
        return change

    async def set_digest_channel(self, guild_id: int, channel_id: int | None, *, by: int) -> Change:
        """Where ``/insights digest`` posts the guild's daily review list (``None``: off)."""
        return await self._save_guild(guild_id, {"digest_channel_id": channel_id}, "digest", by)

    @property
    def engine(self) -> AsyncEngine:
        """The process's one engine, for the storage's other APIs (knowledge, digests), so
        they share its pool instead of opening connections of their own."""
        return self._engine

    async def _save_guild(
        self, guild_id: int, values: dict[str, Any], setting: str, by: int
    ) -> Change:
        change, row = await self._save(
            guild_settings, {"guild_id": guild_id}, values,
            setting=setting, guild_id=guild_id, channel_id=None, by=by,
        )
        self._cache.put(("guild", guild_id), guild_row(row))
        return change

    async def _save(
        self,
        table: Table,
        key: dict[str, int],
        values: dict[str, Any],
        *,
        setting: str,
        guild_id: int,
        channel_id: int | None,
        by: int,
    ) -> tuple[Change, Any]:
        """Upsert one settings row and log the change, in one transaction."""
        at = self._now()

        async def save(connection: AsyncConnection) -> tuple[Change, Any]:
            return await save_setting(
                connection, self._insert, table, key, values,
                setting=setting, guild_id=guild_id, channel_id=channel_id, by=by, at=at,
            )

        return await self._write(f"saving a {setting} change", save)

    async def _write(self, doing: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            return await self._run(work, write=True)
        except DATABASE_ERRORS as error:
            self._health.failed(error, doing)
            raise StorageUnavailable(doing) from error

    async def _run(
        self, work: Callable[[AsyncConnection], Awaitable[T]], *, write: bool = False
    ) -> T:
        async with asyncio.timeout(self.config.timeout):
            if write:
                async with self._engine.begin() as connection:
                    result = await work(connection)
            else:
                async with self._engine.connect() as connection:
                    result = await work(connection)
        self._health.succeeded()
        return result

    async def _cached(
        self,
        key: Hashable,
        load: Callable[[AsyncConnection], Awaitable[T]],
        default: T,
        doing: str,
    ) -> T:
        hit = self._cache.get(key)
        if hit is not None:
            if not hit.fresh:
                self._refresh(key, load, hit.serial, doing)
            cached: T = hit.value
            return cached
        if not self._health.worth_trying():
            return default
        try:
            value = await self._run(load)
        except DATABASE_ERRORS as error:
            self._health.failed(error, doing)
            return default
        self._cache.put_if(key, value, 0)
        return value

    def _refresh(
        self, key: Hashable, load: Callable[[AsyncConnection], Awaitable[Any]], serial: int,
        doing: str,
    ) -> None:
        if key in self._refreshing or not self._health.worth_trying():
            return

        async def refresh() -> None:
            try:
                value = await self._run(load)
            except DATABASE_ERRORS as error:
                self._health.failed(error, doing)
                return
            self._cache.put_if(key, value, serial)

        task = asyncio.create_task(refresh())
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))
