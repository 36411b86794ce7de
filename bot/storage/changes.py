"""The settings rows and the log of who changed what: one admin change is an upsert of
its channel or guild row and an audit row, written in the same transaction so the log
never disagrees with the settings in effect. :class:`bot.storage.store.Storage` decides
when (cache, time-outs, failures); this module only knows the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.budget import UTC, GuildBudget
from bot.storage.channels import ChannelRow, GuildRow
from bot.storage.tables import setting_changes


@dataclass(frozen=True)
class Change:
    """One admin change: what the announcement says and the audit row keeps."""

    setting: str
    guild_id: int
    channel_id: int | None
    user_id: int
    old: str | None
    new: str | None
    at: dt.datetime


def budget_text(budget: GuildBudget) -> str:
    def one(value: int | None, unit: str) -> str:
        if value is None:
            return f"default {unit}"
        return f"{value} {unit}" if value else f"unlimited {unit}"

    return f"{one(budget.tokens, 'tokens')}, {one(budget.messages, 'messages')} per day"


async def save_setting(
    connection: AsyncConnection,
    insert: Callable[[Table], Any],
    table: Table,
    key: dict[str, int],
    values: dict[str, Any],
    *,
    setting: str,
    guild_id: int,
    channel_id: int | None,
    by: int,
    at: dt.datetime,
) -> tuple[Change, Any]:
    """Upsert one settings row (``insert`` is the dialect's ``INSERT ... ON CONFLICT``) and
    log the change; returns the change and the row as it now stands."""
    before = await select_one(connection, table, next(iter(key.values())))
    upsert = insert(table).values(**key, **values)
    after = (
        await connection.execute(
            upsert.on_conflict_do_update(
                index_elements=list(table.primary_key.columns), set_=values
            ).returning(*table.columns)
        )
    ).one()
    change = Change(
        setting, guild_id, channel_id, by,
        _setting_text(setting, before), _setting_text(setting, after), at,
    )
    await connection.execute(
        setting_changes.insert().values(
            guild_id=guild_id, channel_id=channel_id, user_id=by, setting=setting,
            old_value=change.old, new_value=change.new, changed_at=at,
        )
    )
    return change, after


async def recent_changes(connection: AsyncConnection, guild_id: int, limit: int) -> list[Change]:
    """The guild's latest ``limit`` changes, newest first."""
    rows = await connection.execute(
        select(setting_changes)
        .where(setting_changes.c.guild_id == guild_id)
        .order_by(setting_changes.c.id.desc())
        .limit(limit)
    )
    return [
        Change(
            row.setting, row.guild_id, row.channel_id, row.user_id,
            row.old_value, row.new_value, _aware(row.changed_at),
        )
        for row in rows
    ]


async def select_one(connection: AsyncConnection, table: Table, owner: int) -> Any:
    (column,) = table.primary_key.columns
    return (await connection.execute(select(table).where(column == owner))).one_or_none()


def channel_row(row: Any) -> ChannelRow | None:
    return None if row is None else ChannelRow(row.persona, row.model, row.threads)


def guild_row(row: Any) -> GuildRow | None:
    if row is None:
        return None
    return GuildRow(row.model, GuildBudget(row.budget_tokens, row.budget_messages))


def _setting_text(setting: str, row: Any) -> str | None:
    if row is None:
        return None
    if setting == "budget":
        return budget_text(GuildBudget(row.budget_tokens, row.budget_messages))
    if setting == "threads":
        return None if row.threads is None else ("on" if row.threads else "off")
    if setting == "digest":
        return None if row.digest_channel_id is None else str(row.digest_channel_id)
    value: str | None = getattr(row, setting)
    return value


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands ``DateTime(timezone=True)`` back naive; the values are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
