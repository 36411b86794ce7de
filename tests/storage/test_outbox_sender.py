"""The outbox's sender against the Greenflash stand-in, on SQLite and PostgreSQL: what is
re-sent, what is kept as dead, and that the payload reaches Greenflash as the SDK sends it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.calls import Analytics
from bot.analytics.outbox import decode, encode
from bot.storage import OutboxSummary, Storage
from tests.helpers import make_analytics, until
from tests.standins.greenflash_server import GreenflashStandIn
from tests.storage.conftest import Backend
from tests.test_greenflash_client import prompt, reply

RATED_AT = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


async def summary_until(
    storage: Storage, done: Callable[[OutboxSummary], bool], what: str, timeout: float = 15.0
) -> OutboxSummary:
    """The outbox's summary once ``done`` holds (the database has no change signal to wait
    on, so it is read every 50 ms); ``TimeoutError`` naming ``what``."""
    summary = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                summary = await storage.outbox.summary()
                if done(summary):
                    return summary
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise TimeoutError(f"no {what} within {timeout}s: {summary}") from None


@asynccontextmanager
async def sender(
    greenflash: GreenflashStandIn, storage: Storage, **settings: Any
) -> AsyncIterator[Analytics]:
    analytics = make_analytics(greenflash.base_url, **({"max_retries": 0} | settings))
    analytics.use_outbox(storage.outbox)
    analytics.start()
    try:
        yield analytics
    finally:
        await analytics.close(grace=2.0)


def rate(analytics: Analytics) -> Awaitable[None]:
    return analytics.rate(guild_id=99, conversation_id=7, rating=1, rating_min=-1,
                          rating_max=1, rated_at=RATED_AT, message_id=2002, feedback="1 👍")


async def test_calls_reach_greenflash_as_the_sdk_sends_them_and_leave_the_outbox(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn
) -> None:
    async with sender(greenflash_standin, storage) as analytics:
        await analytics.log_user_message(prompt())
        await rate(analytics)
        await greenflash_standin.wait_for_accepted("/ratings", 1)
        await summary_until(storage, lambda s: s.pending == 0, "an empty outbox")
    (message,) = greenflash_standin.accepted_for("/messages")
    assert message.json["messages"][0]["createdAt"] == "2026-11-25T12:00:00+00:00"
    assert message.json["messages"][0]["externalMessageId"] == "1001"
    assert greenflash_standin.ratings[0]["ratedAt"] == "2026-12-05T12:00:00+00:00"
    assert analytics.stats.sent == 4  # the message, the rating, Alice and her guild


async def test_a_4xx_is_kept_as_dead_and_never_sent_again(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn
) -> None:
    greenflash_standin.fail_next(400, path="/messages")
    async with sender(greenflash_standin, storage) as analytics:
        await analytics.log_assistant_message(prompt(), reply())
        summary = await summary_until(storage, lambda s: s.dead == 1, "a dead row")
        await analytics.log_assistant_message(prompt(), reply(message_ids=(2004,)))
        await greenflash_standin.wait_for_accepted("/messages", 1)
    assert (summary.pending, analytics.stats.dead) == (0, 1)
    assert len(greenflash_standin.failed_for("/messages")) == 1, "not retried"
    assert (await storage.outbox.summary()).dead == 1


async def test_a_5xx_is_retried_until_it_arrives(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn
) -> None:
    greenflash_standin.fail_next(503, times=2, path="/messages")
    async with sender(greenflash_standin, storage) as analytics:
        await analytics.log_assistant_message(prompt(), reply())
        await greenflash_standin.wait_for_accepted("/messages", 1, timeout=10)
        await summary_until(storage, lambda s: s.pending == 0, "an empty outbox")
    assert len(greenflash_standin.failed_for("/messages")) == 2
    assert analytics.stats.failed == 2


async def test_a_first_answer_that_never_comes_is_resent_without_a_duplicate(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn
) -> None:
    """Greenflash stores the message and answers after the client gave up: the resend is
    deduplicated by its ``externalMessageId``."""
    greenflash_standin.answer_late_next(30, path="/messages")
    async with sender(greenflash_standin, storage, timeout=1.0) as analytics:
        await analytics.log_assistant_message(prompt(), reply())
        await greenflash_standin.wait_for_accepted("/messages", 2, timeout=10)
        await summary_until(storage, lambda s: s.pending == 0, "an empty outbox")
    assert [m["externalMessageId"] for m in greenflash_standin.stored_messages()] == ["2002"]


async def test_a_rating_whose_outcome_is_unknown_is_not_sent_twice(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn
) -> None:
    greenflash_standin.answer_late_next(30, path="/ratings")
    async with sender(greenflash_standin, storage, timeout=1.0) as analytics:
        await rate(analytics)
        summary = await summary_until(storage, lambda s: s.dead == 1, "the rating kept as dead")
    assert summary.pending == 0
    assert len(greenflash_standin.ratings) == 1


async def test_calls_made_while_the_database_is_down_are_written_when_it_answers(
    backend: Backend, greenflash_standin: GreenflashStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    storage = backend.storage(config={"timeout": 0.5})
    try:
        async with sender(greenflash_standin, storage) as analytics:
            async with backend.outage(storage):
                await analytics.log_assistant_message(prompt(), reply())
                await analytics.log_assistant_message(prompt(), reply(message_ids=(2004,)))
                await until(lambda: "holding calls in memory" in caplog.text,
                            "the writer failing", 10)
                assert greenflash_standin.accepted == []
            await greenflash_standin.wait_for_accepted("/messages", 2, timeout=15)
    finally:
        await storage.close()


async def test_two_workers_never_send_a_row_whose_lease_could_have_run_out(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch is several waves of sends; with a Greenflash so slow that the last waves
    would start after their rows' lease could run out (here a 2 s lease: a 1 s send bound
    plus a 1 s margin, of which a send may start in the first 0.5 s; 0.7 s a send, one at a
    time), those rows are given back unsent, and the other worker, polling meanwhile,
    never sends a row the first still holds."""
    monkeypatch.setattr("bot.analytics.outbox.LEASE_MARGIN", 1.0)
    greenflash_standin.latency = 0.7
    async with (sender(greenflash_standin, storage, timeout=1.0, max_in_flight=1) as first,
                sender(greenflash_standin, storage, timeout=1.0, max_in_flight=1)):
        for message_id in range(3001, 3005):
            await first.log_assistant_message(prompt(), reply(message_ids=(message_id,)))
        await greenflash_standin.wait_for_accepted("/messages", 4, timeout=20)
        await summary_until(storage, lambda s: s.pending == 0, "an empty outbox")
    sent = [record.json["messages"][0]["externalMessageId"]
            for record in greenflash_standin.accepted_for("/messages")]
    assert sorted(sent) == ["3001", "3002", "3003", "3004"], "each sent once"
    assert greenflash_standin.max_in_flight <= 2


async def test_rows_being_sent_at_shutdown_wait_unclaimed_for_the_next_start(
    backend: Backend, storage: Storage, greenflash_standin: GreenflashStandIn
) -> None:
    """Messages cut off mid-send are given back (re-sending them is harmless), so the next
    start sends them at once instead of after their lease; a rating cut off mid-send keeps
    its claim, since whether it arrived is unknown."""
    greenflash_standin.latency = 30
    analytics = make_analytics(greenflash_standin.base_url, max_retries=0, timeout=60.0)
    analytics.use_outbox(storage.outbox)
    analytics.start()
    await analytics.log_assistant_message(prompt(), reply())
    await rate(analytics)
    await until(lambda: greenflash_standin.in_flight == 2, "both calls being sent", 10)
    await analytics.close(grace=0.2)
    summary = await storage.outbox.summary()
    assert (summary.pending, summary.claimed) == (2, 1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
moments = st.datetimes(timezones=st.just(dt.UTC))


@given(st.dictionaries(st.text(), json_values | moments, max_size=6))
def test_a_payload_is_the_arguments_with_datetimes_as_iso_strings(
    arguments: dict[str, Any],
) -> None:
    expected = {key: value.isoformat() if isinstance(value, dt.datetime) else value
                for key, value in arguments.items()}
    assert decode(encode(arguments)) == json.loads(json.dumps(expected))
