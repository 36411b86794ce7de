"""The Greenflash outbox: calls written down before they are sent, claimed one worker at a time.

A row is one SDK call (its ``kind`` and the method's keyword arguments as JSON). The
sender claims the oldest rows that are due with one conditional ``UPDATE … RETURNING``:
on PostgreSQL the rows are picked with ``SELECT … FOR UPDATE SKIP LOCKED``, so two workers
claiming at once take different rows; SQLite serialises writers, so the same statement is
atomic there (SQLAlchemy leaves ``FOR UPDATE`` out on SQLite). A claim is a lease:
``claimed_by`` holds the row until ``claimed_until``, and a worker that dies holding it
(SIGKILL) only delays the row until the lease runs out. A row claimed again after its lease
ran out is marked :data:`LEASE_EXPIRED` in ``error``: its last attempt's outcome is unknown.

Times are the process's UTC clock, not the database's, so both backends compare the same
values; every statement is bounded by the storage timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from bot.storage.budget import UTC
from bot.storage.tables import outbox

T = TypeVar("T")

LEASE_EXPIRED = "lease expired: the last attempt's outcome is unknown"
_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this worker holds until its lease runs out."""

    id: int
    kind: str
    payload: str
    attempts: int  # claims so far, this one included
    orphaned: bool  # claimed before by a worker whose lease ran out: outcome unknown


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one claimed row's attempt ended: ``retry`` is due again ``after`` seconds;
    ``released`` was never sent (its turn came too late in its lease) and is given back as
    if never claimed."""

    id: int
    state: Literal["delivered", "retry", "dead", "released"]
    error: str = ""
    after: float = 0.0


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    pending: int
    dead: int
    claimed: int  # pending rows a worker holds now (being sent)
    oldest: dt.datetime | None  # the oldest pending call's creation time

    def oldest_age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.oldest is None else now - self.oldest


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands ``DateTime(timezone=True)`` back naive; the values are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class OutboxStore:
    def __init__(
        self, engine: AsyncEngine, timeout: float, now: Callable[[], dt.datetime] = _now
    ) -> None:
        self._engine = engine
        self._timeout = timeout
        self._now = now

    async def add(self, calls: Sequence[tuple[str, str]]) -> None:
        """Write ``(kind, payload)`` calls in one transaction, due at once."""
        if not calls:
            return
        at = self._now()
        rows = [
            {"created_at": at, "kind": kind, "payload": payload, "next_attempt_at": at}
            for kind, payload in calls
        ]

        async def insert(connection: AsyncConnection) -> None:
            await connection.execute(outbox.insert(), rows)

        await self._run(insert)

    async def claim(self, worker: str, limit: int, lease: dt.timedelta) -> list[Claimed]:
        """Up to ``limit`` of the oldest due rows, held by ``worker`` for ``lease``."""
        at = self._now()
        claimable = and_(
            outbox.c.dead_at.is_(None),
            outbox.c.next_attempt_at <= at,
            or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < at),
        )
        # A CTE, evaluated once: as ``id IN (subquery)`` PostgreSQL may run the subquery
        # again for each row and claim past ``limit``.
        due = (
            select(outbox.c.id).where(claimable).order_by(outbox.c.id).limit(limit)
            .with_for_update(skip_locked=True).cte("due")
        )
        statement = (
            update(outbox)
            .where(outbox.c.id == due.c.id, claimable)
            .values(
                claimed_by=worker,
                claimed_until=at + lease,
                attempts=outbox.c.attempts + 1,
                error=case(
                    (outbox.c.claimed_until.is_not(None), LEASE_EXPIRED), else_=outbox.c.error
                ),
            )
            .returning(outbox.c.id, outbox.c.kind, outbox.c.payload, outbox.c.attempts,
                       outbox.c.error)
        )

        async def take(connection: AsyncConnection) -> list[Claimed]:
            rows = (await connection.execute(statement)).all()
            return sorted(
                (Claimed(row.id, row.kind, row.payload, row.attempts, row.error == LEASE_EXPIRED)
                 for row in rows),
                key=lambda claimed: claimed.id,
            )

        return await self._run(take)

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Record a batch's outcomes in one transaction: delivered rows deleted, retried
        rows released until their pause is over, dead rows kept and never claimed again,
        unsent rows given back with their claim uncounted."""
        at = self._now()
        delivered = [outcome.id for outcome in outcomes if outcome.state == "delivered"]
        released = [outcome.id for outcome in outcomes if outcome.state == "released"]

        async def record(connection: AsyncConnection) -> None:
            if delivered:
                await connection.execute(delete(outbox).where(outbox.c.id.in_(delivered)))
            if released:
                await connection.execute(
                    update(outbox).where(outbox.c.id.in_(released)).values(
                        claimed_by=None, claimed_until=None, attempts=outbox.c.attempts - 1
                    )
                )
            for outcome in outcomes:
                if outcome.state in ("delivered", "released"):
                    continue
                values: dict[str, object] = {
                    "claimed_by": None, "claimed_until": None,
                    "error": outcome.error[:_ERROR_CHARS],
                }
                if outcome.state == "dead":
                    values["dead_at"] = at
                else:
                    values["next_attempt_at"] = at + dt.timedelta(seconds=outcome.after)
                await connection.execute(
                    update(outbox).where(outbox.c.id == outcome.id).values(values)
                )

        await self._run(record)

    async def release(self, row_ids: Sequence[int]) -> None:
        """Give rows back unsent (shutdown): due at once for any worker."""
        if row_ids:
            statement = update(outbox).where(outbox.c.id.in_(list(row_ids))).values(
                claimed_by=None, claimed_until=None
            )
            await self._run(_execute(statement))

    async def trim(self, max_rows: int, max_age: dt.timedelta) -> int:
        """Drop rows older than ``max_age``, then the oldest past ``max_rows``; how many."""
        cutoff = self._now() - max_age
        newest_dropped = (
            select(outbox.c.id).order_by(outbox.c.id.desc()).offset(max_rows).limit(1)
            .scalar_subquery()
        )

        async def drop(connection: AsyncConnection) -> int:
            old = await connection.execute(delete(outbox).where(outbox.c.created_at < cutoff))
            over = await connection.execute(delete(outbox).where(outbox.c.id <= newest_dropped))
            return int(old.rowcount) + int(over.rowcount)

        return await self._run(drop)

    async def summary(self) -> OutboxSummary:
        pending = outbox.c.dead_at.is_(None)
        statement = select(
            func.count().filter(pending),
            func.count().filter(outbox.c.dead_at.is_not(None)),
            func.count().filter(pending, outbox.c.claimed_until >= self._now()),
            func.min(outbox.c.created_at).filter(pending),
        )

        async def read(connection: AsyncConnection) -> OutboxSummary:
            waiting, dead, claimed, oldest = (await connection.execute(statement)).one()
            return OutboxSummary(int(waiting), int(dead), int(claimed),
                                 oldest and _aware(oldest))

        return await self._run(read)

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with asyncio.timeout(self._timeout), self._engine.begin() as connection:
            return await work(connection)


def _execute(statement: Executable) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def run(connection: AsyncConnection) -> None:
        await connection.execute(statement)

    return run
