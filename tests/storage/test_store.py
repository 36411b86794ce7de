"""The storage API on SQLite and on PostgreSQL: personas, models, budgets, usage, the cache
and a database that stops answering."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys

import pytest

from bot.storage import (
    MAX_PERSONA_CHARS,
    Budget,
    Storage,
    StorageConfig,
    StorageUnavailable,
    Usage,
)
from bot.storage.store import RETRY_SECONDS
from tests.storage.conftest import MODELS, Backend, FakeClock

GUILD = 851_845_528_051_384_320
OTHER_GUILD = 933_453_536_094_715_904
CHANNEL = 851_845_530_937_065_472
OTHER_CHANNEL = 851_848_618_599_120_896
THREAD = 1_158_825_797_277_057_024
ADMIN = 507_829_970_622_611_456
USER = 602_862_417_600_446_464


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=dt.UTC)


async def test_persona_is_set_shown_and_cleared_and_survives_a_restart(
    backend: Backend, storage: Storage
) -> None:
    before = await storage.settings_for(GUILD, CHANNEL)
    assert (before.persona, before.model, before.model_source) == (None, MODELS[0], "default")

    change = await storage.set_persona(
        GUILD, CHANNEL, "  You are Ada, the support bot.  ", by=ADMIN
    )
    assert (change.setting, change.old, change.new, change.user_id) == (
        "persona", None, "You are Ada, the support bot.", ADMIN
    )
    assert (await storage.settings_for(GUILD, CHANNEL)).persona == "You are Ada, the support bot."

    restarted = backend.storage()
    try:
        assert (await restarted.settings_for(GUILD, CHANNEL)).persona == (
            "You are Ada, the support bot."
        )
        assert (await restarted.settings_for(GUILD, OTHER_CHANNEL)).persona is None
        cleared = await restarted.clear_persona(GUILD, CHANNEL, by=ADMIN)
        assert (cleared.old, cleared.new) == ("You are Ada, the support bot.", None)
        assert (await restarted.settings_for(GUILD, CHANNEL)).persona is None
    finally:
        await restarted.close()


async def test_a_thread_follows_its_parent_unless_it_has_its_own(storage: Storage) -> None:
    await storage.set_persona(GUILD, CHANNEL, "Parent persona", by=ADMIN)
    inherited = await storage.settings_for(GUILD, THREAD, CHANNEL)
    assert (inherited.persona, inherited.persona_channel_id) == ("Parent persona", CHANNEL)

    await storage.set_persona(GUILD, THREAD, "Thread persona", by=ADMIN)
    own = await storage.settings_for(GUILD, THREAD, CHANNEL)
    assert (own.persona, own.persona_channel_id) == ("Thread persona", THREAD)
    assert (await storage.settings_for(GUILD, CHANNEL)).persona == "Parent persona"

    await storage.clear_persona(GUILD, THREAD, by=ADMIN)
    assert (await storage.settings_for(GUILD, THREAD, CHANNEL)).persona == "Parent persona"


async def test_persona_length_is_bounded(storage: Storage) -> None:
    await storage.set_persona(GUILD, CHANNEL, "x" * MAX_PERSONA_CHARS, by=ADMIN)
    with pytest.raises(ValueError, match=str(MAX_PERSONA_CHARS)):
        await storage.set_persona(GUILD, CHANNEL, "y" * (MAX_PERSONA_CHARS + 1), by=ADMIN)
    with pytest.raises(ValueError):
        await storage.set_persona(GUILD, CHANNEL, " \n\t ", by=ADMIN)
    assert (await storage.settings_for(GUILD, CHANNEL)).persona == "x" * MAX_PERSONA_CHARS


async def test_model_per_guild_then_per_channel_from_the_allowlist(
    backend: Backend, storage: Storage
) -> None:
    await storage.set_model(GUILD, None, MODELS[1], by=ADMIN)
    for channel in (CHANNEL, OTHER_CHANNEL):
        settings = await storage.settings_for(GUILD, channel)
        assert (settings.model, settings.model_source) == (MODELS[1], "guild")
    assert (await storage.settings_for(OTHER_GUILD, CHANNEL + 1)).model == MODELS[0]

    await storage.set_model(GUILD, CHANNEL, MODELS[2], by=ADMIN)
    assert (await storage.settings_for(GUILD, CHANNEL)).model == MODELS[2]
    assert (await storage.settings_for(GUILD, OTHER_CHANNEL)).model == MODELS[1]
    thread = await storage.settings_for(GUILD, THREAD, CHANNEL)
    assert (thread.model, thread.model_source) == (MODELS[2], "parent")

    with pytest.raises(ValueError, match="gpt-5-turbo-max"):
        await storage.set_model(GUILD, CHANNEL, "gpt-5-turbo-max", by=ADMIN)
    assert (await storage.settings_for(GUILD, CHANNEL)).model == MODELS[2]

    # The operator takes o3-mini off the allowlist: the guild's choice applies again.
    narrowed = backend.storage(config={"model_allowlist": MODELS[:2]})
    try:
        settings = await narrowed.settings_for(GUILD, CHANNEL)
        assert (settings.model, settings.model_source) == (MODELS[1], "guild")
    finally:
        await narrowed.close()


async def test_guild_budget_follows_the_default_until_set(backend: Backend) -> None:
    storage = backend.storage(config={"daily_token_budget": 5000})
    try:
        assert await storage.budget_for(GUILD) == Budget(5000, None)
        await storage.set_budget(GUILD, tokens=None, messages=20, by=ADMIN)
        assert await storage.budget_for(GUILD) == Budget(5000, 20)
        change = await storage.set_budget(GUILD, tokens=0, messages=20, by=ADMIN)
        assert await storage.budget_for(GUILD) == Budget(None, 20)
        assert change.new == "unlimited tokens, 20 messages per day"
        assert await storage.budget_for(OTHER_GUILD) == Budget(5000, None)
        assert await storage.budget_for(None) == Budget(5000, None)
    finally:
        await storage.close()


async def test_usage_is_charged_per_utc_day_and_the_budget_stops_at_its_limit(
    backend: Backend,
) -> None:
    now = [at(1, 23)]
    storage = backend.storage(now=lambda: now[0])
    try:
        await storage.set_budget(GUILD, tokens=1000, messages=3, by=ADMIN)
        assert not (await storage.check_budget(GUILD, USER)).over
        assert await storage.charge(GUILD, USER, tokens=400) == Usage(400, 1)
        assert await storage.charge(GUILD, USER, tokens=599) == Usage(999, 2)
        assert not (await storage.check_budget(GUILD, USER)).over
        assert await storage.charge(GUILD, USER, tokens=1) == Usage(1000, 3)
        check = await storage.check_budget(GUILD, USER)
        assert check.over
        assert check.resets_at == dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
        assert not (await storage.check_budget(GUILD, ADMIN)).over

        now[0] = at(2, 0)
        assert (await storage.check_budget(GUILD, USER)).usage == Usage(0, 0)
        assert await storage.charge(GUILD, USER, tokens=0) == Usage(0, 1)
    finally:
        await storage.close()


async def test_dm_usage_counts_on_its_own(storage: Storage) -> None:
    await storage.charge(None, USER, tokens=10)
    await storage.charge(GUILD, USER, tokens=7)
    assert await storage.usage(None, USER) == Usage(10, 1)
    assert await storage.usage(GUILD, USER) == Usage(7, 1)


async def test_concurrent_charges_through_two_handles_all_count(backend: Backend) -> None:
    """80 charges at once queue on SQLite's write lock; what is tested is that none is lost
    or counted twice, so the handles wait for the lock as long as charge_worker's processes
    do, not the 1 s the fixtures' (the default) timeout allows, which a machine busy with
    parallel test workers can exceed (a charge that times out is dropped by design)."""
    first, second, reader = (backend.storage(config={"timeout": 10.0}) for _ in range(3))
    try:
        await asyncio.gather(
            *(store.charge(GUILD, USER, tokens=3) for store in (first, second) for _ in range(40))
        )
        assert await reader.usage(GUILD, USER) == Usage(240, 80)
    finally:
        for store in (first, second, reader):
            await store.close()


async def test_charges_from_two_worker_processes_all_count_and_both_see_the_limit(
    backend: Backend,
) -> None:
    """Two real processes (as two Heroku worker dynos) charge the same person at once."""
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.storage.charge_worker",
            backend.env().get("DATABASE_URL", ""), backend.config.database_path,
            str(GUILD), str(USER), "25",
        )
        for _ in range(2)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers)), timeout=60)
    assert codes == [0, 0]
    storage = backend.storage(config={"daily_message_budget": 50})
    try:
        assert await storage.usage(GUILD, USER) == Usage(50 * 5, 50)
        assert (await storage.check_budget(GUILD, USER)).over
    finally:
        await storage.close()


async def test_reads_are_cached_for_the_ttl_then_refreshed_in_the_background(
    backend: Backend, storage: Storage, clock: FakeClock
) -> None:
    other_process = backend.storage()
    try:
        assert (await storage.settings_for(GUILD, CHANNEL)).persona is None
        await other_process.set_persona(GUILD, CHANNEL, "Set elsewhere", by=ADMIN)

        clock.advance(storage.config.cache_seconds - 1)
        assert (await storage.settings_for(GUILD, CHANNEL)).persona is None
        clock.advance(2)
        # Stale: answered at once from memory while one refresh runs.
        assert (await storage.settings_for(GUILD, CHANNEL)).persona is None
        await storage.settled()
        assert (await storage.settings_for(GUILD, CHANNEL)).persona == "Set elsewhere"

        await storage.set_persona(GUILD, CHANNEL, "Set here", by=ADMIN)
        assert (await storage.settings_for(GUILD, CHANNEL)).persona == "Set here"
    finally:
        await other_process.close()


async def test_a_refresh_started_before_a_local_write_does_not_undo_it(
    storage: Storage, clock: FakeClock
) -> None:
    await storage.settings_for(GUILD, CHANNEL)
    clock.advance(storage.config.cache_seconds + 1)
    await storage.settings_for(GUILD, CHANNEL)  # starts a refresh that reads "no persona"
    await storage.set_persona(GUILD, CHANNEL, "Newer", by=ADMIN)
    await storage.settled()
    assert (await storage.settings_for(GUILD, CHANNEL)).persona == "Newer"


async def test_with_the_database_stopped_callers_get_defaults_and_one_warning(
    backend: Backend, storage: Storage, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await storage.set_persona(GUILD, CHANNEL, "Known before the outage", by=ADMIN)
    await storage.set_budget(GUILD, tokens=None, messages=1, by=ADMIN)
    await storage.charge(GUILD, ADMIN, tokens=5)
    caplog.set_level(logging.DEBUG, logger="bot.storage")
    async with backend.outage(storage):
        for _ in range(5):
            fresh = await storage.settings_for(GUILD, OTHER_CHANNEL)
            assert (fresh.persona, fresh.model) == (None, MODELS[0])
            assert (await storage.settings_for(GUILD, CHANNEL)).persona == (
                "Known before the outage"
            )
            unchecked = await storage.check_budget(GUILD, USER)
            assert unchecked.usage is None
            assert not unchecked.over
            assert await storage.charge(GUILD, USER, tokens=5) is None
        clock.advance(RETRY_SECONDS + 1)
        with pytest.raises(StorageUnavailable):
            await storage.set_persona(GUILD, OTHER_CHANNEL, "Not saved", by=ADMIN)
        assert (await storage.settings_for(GUILD, THREAD, OTHER_CHANNEL)).persona is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "database unavailable" in warnings[0].getMessage()

    clock.advance(RETRY_SECONDS + 1)
    assert (await storage.settings_for(GUILD, THREAD, OTHER_CHANNEL)).persona is None
    assert "answering again" in caplog.records[-1].getMessage()
    await storage.set_persona(GUILD, OTHER_CHANNEL, "Saved after", by=ADMIN)
    assert (await storage.settings_for(GUILD, OTHER_CHANNEL)).persona == "Saved after"


async def test_every_change_is_logged_with_who_and_when(backend: Backend) -> None:
    now = at(3, 9)
    storage = backend.storage(now=lambda: now)
    try:
        await storage.set_persona(GUILD, CHANNEL, "One", by=ADMIN)
        await storage.set_model(GUILD, None, MODELS[1], by=USER)
        await storage.set_budget(GUILD, tokens=100, messages=None, by=ADMIN)
        changes = await storage.recent_changes(GUILD)
        assert [(c.setting, c.user_id, c.channel_id, c.new) for c in changes] == [
            ("budget", ADMIN, None, "100 tokens, default messages per day"),
            ("model", USER, None, MODELS[1]),
            ("persona", ADMIN, CHANNEL, "One"),
        ]
        assert {c.at for c in changes} == {now}
        assert await storage.recent_changes(OTHER_GUILD) == []
    finally:
        await storage.close()


async def test_usage_past_the_retention_window_is_pruned(backend: Backend) -> None:
    now = [at(1)]
    storage = backend.storage(now=lambda: now[0])
    try:
        await storage.charge(GUILD, USER, tokens=1)
        now[0] = at(1) + dt.timedelta(days=storage.config.usage_retention_days)
        await storage.charge(GUILD, ADMIN, tokens=1)
        assert await storage.prune_usage() == 0
        now[0] += dt.timedelta(days=1)
        assert await storage.prune_usage() == 1
    finally:
        await storage.close()


async def test_a_server_that_accepts_but_never_answers_costs_one_bounded_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A black-holed PostgreSQL (the connection opens, nothing comes back): the storage's
    bound ends the wait, and the next calls do not wait again. (SQLite's counterpart, a
    file locked by another process, is the outage test above.)"""
    silent: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    storage = Storage(
        StorageConfig(database_url=f"postgres://bot@127.0.0.1:{port}/bot", timeout=0.3)
    )
    caplog.set_level(logging.WARNING, logger="bot.storage")
    try:
        settings = await asyncio.wait_for(storage.settings_for(GUILD, CHANNEL), timeout=10)
        assert (settings.persona, settings.model) == (None, "gpt-4o-mini")
        assert len(silent) == 1
        assert await storage.charge(GUILD, USER, tokens=1) is None
        assert len(silent) == 1  # no second connection attempt inside the retry window
        (warning,) = caplog.records
        assert "TimeoutError" in warning.getMessage()
    finally:
        await storage.close()
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_threads_are_switched_per_channel_over_the_operators_default(
    backend: Backend, storage: Storage
) -> None:
    defaults = frozenset({CHANNEL})
    fresh = await storage.settings_for(GUILD, OTHER_CHANNEL)
    assert fresh.threads is None
    assert not fresh.opens_threads(OTHER_CHANNEL, defaults)
    assert (await storage.settings_for(GUILD, CHANNEL)).opens_threads(CHANNEL, defaults)

    await storage.set_persona(GUILD, CHANNEL, "Ada", by=ADMIN)
    off = await storage.set_threads(GUILD, CHANNEL, False, by=ADMIN)
    on = await storage.set_threads(GUILD, OTHER_CHANNEL, True, by=ADMIN)
    assert [(c.setting, c.old, c.new) for c in (off, on)] == [
        ("threads", None, "off"), ("threads", None, "on")
    ]

    restarted = backend.storage()
    try:
        channel = await restarted.settings_for(GUILD, CHANNEL)
        assert (channel.threads, channel.persona) == (False, "Ada"), "one row, both settings"
        assert not channel.opens_threads(CHANNEL, defaults), "the admins' off wins"
        assert (await restarted.settings_for(GUILD, OTHER_CHANNEL)).opens_threads(
            OTHER_CHANNEL, defaults
        )
        assert (await restarted.settings_for(GUILD, THREAD, OTHER_CHANNEL)).threads is None
        assert [c.setting for c in await restarted.recent_changes(GUILD)][:2] == [
            "threads", "threads"
        ]
    finally:
        await restarted.close()
