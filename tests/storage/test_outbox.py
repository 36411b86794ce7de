"""The outbox table's claims, leases, bounds and summary, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.storage import OutboxStore, Outcome, Storage
from tests.storage.conftest import Backend

LEASE = dt.timedelta(seconds=30)


class Clock:
    """A wall clock the test moves by hand, for the outbox's UTC timestamps."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def store_on(storage: Storage, clock: Clock) -> OutboxStore:
    return OutboxStore(storage.outbox._engine, storage.config.timeout, clock)


async def test_rows_are_claimed_oldest_first_by_one_worker_at_a_time(
    backend: Backend, storage: Storage
) -> None:
    await storage.outbox.add([("message", f'{{"n":{n}}}') for n in range(5)])
    first = await storage.outbox.claim("a", 3, LEASE)
    second = await storage.outbox.claim("b", 3, LEASE)
    third = await storage.outbox.claim("c", 3, LEASE)
    assert [row.payload for row in first] == ['{"n":0}', '{"n":1}', '{"n":2}']
    assert [row.payload for row in second] == ['{"n":3}', '{"n":4}']
    assert third == []
    assert all(row.attempts == 1 and not row.orphaned for row in first + second)


async def test_two_handles_claiming_at_once_never_take_the_same_row(
    backend: Backend, storage: Storage
) -> None:
    """Two workers (two engines, as two processes have) claim 200 rows in small bites at
    the same time: every row is taken exactly once."""
    await storage.outbox.add([("event", str(n)) for n in range(200)])
    other = backend.storage()

    async def drain(outbox: OutboxStore, worker: str) -> list[int]:
        taken: list[int] = []
        while rows := await outbox.claim(worker, 7, LEASE):
            taken += [row.id for row in rows]
        return taken

    try:
        mine, theirs = await asyncio.gather(drain(storage.outbox, "a"),
                                            drain(other.outbox, "b"))
    finally:
        await other.close()
    assert sorted(mine + theirs) == sorted(set(mine + theirs))
    assert len(mine + theirs) == 200


async def test_a_lease_that_ran_out_is_claimed_again_and_marked_orphaned(
    backend: Backend, storage: Storage
) -> None:
    clock = Clock()
    outbox = store_on(storage, clock)
    await outbox.add([("rating", "{}")])
    (held,) = await outbox.claim("dead-worker", 5, LEASE)
    clock.now += LEASE - dt.timedelta(seconds=1)
    assert await outbox.claim("b", 5, LEASE) == []
    clock.now += dt.timedelta(seconds=2)
    (again,) = await outbox.claim("b", 5, LEASE)
    assert again.id == held.id
    assert (again.attempts, again.orphaned) == (2, True)


async def test_retried_rows_wait_their_pause_and_dead_rows_are_never_claimed(
    backend: Backend, storage: Storage
) -> None:
    clock = Clock()
    outbox = store_on(storage, clock)
    await outbox.add([("message", "1"), ("message", "2")])
    retried, refused = await outbox.claim("a", 5, LEASE)
    await outbox.settle([Outcome(retried.id, "retry", "InternalServerError (HTTP 500)", 4.0),
                         Outcome(refused.id, "dead", "BadRequestError (HTTP 400)")])
    clock.now += dt.timedelta(seconds=3)
    assert await outbox.claim("a", 5, LEASE) == []
    clock.now += dt.timedelta(seconds=2)
    (again,) = await outbox.claim("a", 5, LEASE)
    assert (again.id, again.attempts, again.orphaned) == (retried.id, 2, False)
    summary = await outbox.summary()
    assert (summary.pending, summary.dead) == (1, 1)
    assert summary.oldest_age(clock.now) == dt.timedelta(seconds=5)
    await outbox.settle([Outcome(again.id, "delivered")])
    assert (await outbox.summary()).pending == 0


async def test_the_table_stays_bounded_oldest_dropped_first(
    backend: Backend, storage: Storage
) -> None:
    clock = Clock()
    outbox = store_on(storage, clock)
    await outbox.add([("message", "old")])
    clock.now += dt.timedelta(hours=10)
    await outbox.add([("message", str(n)) for n in range(12)])
    dropped = await outbox.trim(10, dt.timedelta(hours=5))
    assert dropped == 3  # the 10-hour-old row by age, then the two oldest past 10 rows
    rows = await outbox.claim("a", 100, LEASE)
    assert [row.payload for row in rows] == [str(n) for n in range(2, 12)]
    assert await outbox.trim(10, dt.timedelta(hours=5)) == 0


async def test_a_row_given_back_unsent_is_claimed_again_as_if_never_claimed(
    backend: Backend, storage: Storage
) -> None:
    await storage.outbox.add([("message", '{"n":0}'), ("message", '{"n":1}')])
    unsent, sent = await storage.outbox.claim("a", 2, LEASE)
    await storage.outbox.settle([Outcome(unsent.id, "released"), Outcome(sent.id, "delivered")])
    (again,) = await storage.outbox.claim("b", 2, LEASE)
    assert (again.id, again.attempts, again.orphaned) == (unsent.id, 1, False)
