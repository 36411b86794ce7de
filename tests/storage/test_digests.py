"""The digest channel, the personas a guild used, and leases, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.storage import Digests, Storage, StorageUnavailable, digest_lease
from tests.storage.conftest import Backend

GUILD, OTHER_GUILD, ADMIN = 111, 222, 7
DAY, NEXT_DAY = "2026-12-04", "2026-12-05"


class Clock:
    """A wall clock the test moves by hand, shared by the workers of one test."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


async def test_the_digest_channel_is_set_per_guild_cleared_and_logged(
    storage: Storage,
) -> None:
    digests = Digests.sharing(storage)
    first = await storage.set_digest_channel(GUILD, 5001, by=ADMIN)
    await storage.set_digest_channel(OTHER_GUILD, 6001, by=ADMIN)
    moved = await storage.set_digest_channel(GUILD, 5002, by=ADMIN)
    assert await digests.channels() == {GUILD: 5002, OTHER_GUILD: 6001}
    off = await storage.set_digest_channel(GUILD, None, by=ADMIN)

    assert await digests.channels() == {OTHER_GUILD: 6001}
    assert [(c.old, c.new) for c in (first, moved, off)] == [
        (None, "5001"), ("5001", "5002"), ("5002", None)]
    logged = await storage.recent_changes(GUILD)
    assert [(c.setting, c.new, c.user_id) for c in logged] == [
        ("digest", None, ADMIN), ("digest", "5002", ADMIN), ("digest", "5001", ADMIN)]


async def test_the_digest_channel_leaves_the_guilds_other_settings_alone(
    storage: Storage,
) -> None:
    await storage.set_budget(GUILD, tokens=500, messages=None, by=ADMIN)
    await storage.set_digest_channel(GUILD, 5001, by=ADMIN)

    fresh = Storage(storage.config)
    try:
        assert (await fresh.budget_for(GUILD)).tokens == 500
    finally:
        await fresh.close()


async def test_personas_used_are_distinct_newest_first_and_this_guilds_only(
    storage: Storage,
) -> None:
    for guild, channel, text in (
        (GUILD, 1, "Pirate"), (GUILD, 2, "Butler"), (OTHER_GUILD, 3, "Elsewhere"),
        (GUILD, 1, "Pirate"), (GUILD, 4, "Poet"),
    ):
        await storage.set_persona(guild, channel, text, by=ADMIN)
    await storage.clear_persona(GUILD, 4, by=ADMIN)

    digests = Digests.sharing(storage)
    assert await digests.personas_used(GUILD, 10) == ["Poet", "Pirate", "Butler"]
    assert await digests.personas_used(GUILD, 2) == ["Poet", "Pirate"]
    assert await digests.personas_used(999, 10) == []


async def test_of_many_workers_taking_one_lease_at_once_exactly_one_gets_it(
    backend: Backend,
) -> None:
    clock = Clock()
    handles = [backend.storage() for _ in range(4)]
    try:
        workers = [Digests.sharing(handle, clock) for handle in handles]
        name = digest_lease(GUILD)
        taken = await asyncio.gather(*(
            digests.take(name, f"worker-{index}", DAY) for index, digests in enumerate(workers)
        ))
        assert sorted(taken) == [False, False, False, True]
        holder = f"worker-{taken.index(True)}"
        assert await workers[0].finish(name, holder, DAY)

        clock.now += dt.timedelta(hours=1)
        assert not any(await asyncio.gather(*(
            digests.take(name, "late", DAY) for digests in workers)))
        assert await workers[1].take(name, "tomorrow", NEXT_DAY)
    finally:
        for handle in handles:
            await handle.close()


async def test_a_lease_whose_holder_died_is_taken_over_once_it_expires(
    storage: Storage,
) -> None:
    clock = Clock()
    digests = Digests.sharing(storage, clock)
    name = digest_lease(GUILD)
    assert await digests.take(name, "dead", DAY, seconds=60)
    assert not await digests.take(name, "second", DAY, seconds=60)

    clock.now += dt.timedelta(seconds=60)
    assert await digests.take(name, "second", DAY, seconds=60)
    assert not await digests.finish(name, "dead", DAY)
    assert await digests.finish(name, "second", DAY)
    assert not await digests.take(digest_lease(GUILD), "third", DAY)
    assert await digests.take(digest_lease(OTHER_GUILD), "third", DAY)


async def test_with_the_database_down_a_lease_is_unavailable_not_taken(
    backend: Backend,
) -> None:
    handle = backend.storage(config={"timeout": 0.5})
    digests = Digests.sharing(handle)
    async with backend.outage(handle):
        with pytest.raises(StorageUnavailable, match="taking the lease"):
            await digests.take(digest_lease(GUILD), "worker", DAY)
    await handle.close()
