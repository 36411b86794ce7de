"""Faults in every service the bot depends on: replies keep flowing, nothing leaks.

For each fault the same things must hold, checked by :func:`watched_bot` when the bot has
closed (as SIGTERM would close it):

* everyone not hit by the fault is answered, and whoever is hit gets an answer or a polite
  sentence, once;
* nothing was logged at ERROR level (no "Ignoring exception in on_message", no "Task
  exception was never retrieved", no unclosed session), ``bot.analytics.pending`` is back to
  0 and ``asyncio.all_tasks()`` back to its count before the bot started;
* Greenflash ends with each message exactly once, or, when an outage outlasts the SDK's
  retries, with a loss that the bot logged and counted in ``bot.analytics.stats``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.client import ChatBot
from bot.config.settings import Settings
from bot.conversation.failures import POLITE, FailureKind
from bot.conversation.notices import EMPTY_MENTION
from bot.replies.writer import CUT_OFF_MARKER
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import answers_to, until
from tests.standins.discord_server import (
    BOB,
    CAROL,
    CHAT_CHANNEL,
    DM_CAROL,
    GENERAL_CHANNEL,
)
from tests.standins.openai_server import INSUFFICIENT_QUOTA

Message = dict[str, Any]


# -- helpers --------------------------------------------------------------------------------


async def answered(stands: Stands, prompt: Message, timeout: float = 5.0) -> Message:
    """The first message of the bot's answer to ``prompt``, once it is there."""
    found = await until(lambda: answers_to(stands.discord, prompt["id"]),
                        f"an answer to {prompt['content']!r}", timeout,
                        changed=stands.discord.next_change)
    return found[0]


async def stored(stands: Stands, prompt: Message, timeout: float = 5.0) -> None:
    """Until Greenflash holds the answer to ``prompt`` (so its reply is complete)."""
    await until(lambda: [item for item in stands.greenflash.stored_messages()
                         if item.get("parentExternalMessageId") == prompt["id"]],
                f"the answer to {prompt['content']!r} in Greenflash", timeout)


def only_reply(stands: Stands, prompt: Message) -> Message:
    """The one message answering ``prompt`` (a reply must not be posted twice)."""
    (reply,) = answers_to(stands.discord, prompt["id"])
    return reply


def logged_once(stands: Stands, prompt: Message, reply: Message | None) -> None:
    """Greenflash holds ``prompt`` exactly once, and ``reply`` as its answer exactly once
    (or no answer at all when ``reply`` is None)."""
    conversation = stands.greenflash.stored_messages(prompt["channel_id"])
    users = [item for item in conversation if item["externalMessageId"] == prompt["id"]]
    assert [item["role"] for item in users] == ["user"], users
    answers = [(item["role"], item["externalMessageId"]) for item in conversation
               if item.get("parentExternalMessageId") == prompt["id"]]
    assert answers == ([("assistant", reply["id"])] if reply else []), answers


def not_logged(stands: Stands, prompt: Message) -> None:
    items = [item for item in stands.greenflash.stored_messages()
             if prompt["id"] in (item["externalMessageId"], item.get("parentExternalMessageId"))]
    assert items == [], items


def events(stands: Stands, event_type: str) -> list[dict[str, Any]]:
    return [record.json for record in stands.greenflash.accepted_for("/events")
            if record.json["eventType"] == event_type]


@asynccontextmanager
async def watched_bot(
    stands: Stands,
    caplog: pytest.LogCaptureFixture,
    settings: Settings | None = None,
    **greenflash_overrides: Any,
) -> AsyncIterator[ChatBot]:
    """``running_bot``, then the checks every fault shares once the bot has closed."""
    caplog.set_level(logging.INFO)
    baseline = len(asyncio.all_tasks())
    async with running_bot(stands, settings, **greenflash_overrides) as bot:
        yield bot
    assert bot.analytics.pending == 0, "every analytics call finished or was dropped"
    try:
        await until(lambda: len(asyncio.all_tasks()) <= baseline, "the bot's tasks to end", 3.0)
    except TimeoutError:
        pytest.fail(f"tasks outlived the bot: "
                    f"{sorted(task.get_coro().__qualname__ for task in asyncio.all_tasks())}")
    gc.collect()  # "Task exception was never retrieved" is logged when a task is collected
    await asyncio.sleep(0)
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], errors
    assert "Task exception was never retrieved" not in caplog.text
    assert "Ignoring exception" not in caplog.text


# -- Greenflash -----------------------------------------------------------------------------


async def test_greenflash_down_for_20s_holds_the_logs_and_never_slows_replies(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash = stands.greenflash
    async with watched_bot(stands, caplog) as bot:
        loop = asyncio.get_running_loop()
        warm_up = await stands.discord.send_message(CHAT_CHANNEL, "before the outage")
        await stored(stands, warm_up)  # Alice and the guild are identified by now

        await greenflash.outage(20)
        during = []
        for number in range(2):
            started = loop.time()
            prompt = await stands.discord.send_message(CHAT_CHANNEL, f"during {number}")
            await answered(stands, prompt)
            assert loop.time() - started < 1.0, "an outage must not slow replies"
            during.append(prompt)
        # Each call is tried 1 + max_retries (2) times within ~2 s; then the calls are held.
        await until(lambda: "greenflash unreachable" in caplog.text, "the outage to be seen",
                    timeout=6)
        assert bot.analytics.pending == 4 and bot.analytics.stats.failed == 0

        await until(lambda: greenflash.is_up, "Greenflash to come back", timeout=25)
        after = [await stands.discord.send_message(CHAT_CHANNEL, f"after {number}", author=BOB)
                 for number in range(2)]
        for prompt in [*during, *after]:
            await stored(stands, prompt, timeout=12)  # the next retry is at most 8 s away

    for prompt in [warm_up, *during, *after]:
        logged_once(stands, prompt, only_reply(stands, prompt))
    stats = bot.analytics.stats
    assert (stats.failed, stats.dropped) == (0, 0), stats
    assert caplog.text.count("greenflash unreachable (APITimeoutError)") == 1
    assert caplog.text.count("greenflash reachable again") == 1
    assert BOB["id"] in greenflash.users, "identifying works again after the outage"


@pytest.mark.parametrize(
    ("header", "value", "wait"),
    [("retry-after-ms", "40", 0.04), ("Retry-After", "1", 1.0)],
    ids=["retry-after-ms", "retry-after-seconds"],
)
async def test_greenflash_429_is_retried_when_it_says(
    stands: Stands, caplog: pytest.LogCaptureFixture, header: str, value: str, wait: float
) -> None:
    greenflash = stands.greenflash
    greenflash.fail_next(429, times=2, headers={header: value})
    async with watched_bot(stands, caplog) as bot:
        prompts = [await stands.discord.send_message(CHAT_CHANNEL, f"question {number}")
                   for number in range(2)]
        for prompt in prompts:
            await answered(stands, prompt, timeout=1.0)
            await stored(stands, prompt)
    for prompt in prompts:
        logged_once(stands, prompt, only_reply(stands, prompt))
    limited = [record for record in greenflash.failed if record.status == 429]
    assert len(limited) == 2
    attempts = sorted([*greenflash.accepted, *greenflash.failed], key=lambda r: r.received_at)
    for record in limited:
        retry = next(attempt for attempt in attempts
                     if attempt.json == record.json and attempt.received_at > record.received_at)
        assert record.answered_at is not None
        assert retry.received_at - record.answered_at >= wait * 0.9, "Retry-After was honoured"
        assert retry.received_at - record.answered_at < wait + 1.0
    assert (bot.analytics.stats.failed, bot.analytics.stats.dropped) == (0, 0)


async def test_greenflash_500_bursts_within_the_retries_lose_nothing(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash = stands.greenflash
    prompts = []
    async with watched_bot(stands, caplog, max_retries=4) as bot:
        for number in range(3):
            greenflash.fail_next(500, times=3, headers={"retry-after-ms": "10"})
            prompt = await stands.discord.send_message(CHAT_CHANNEL, f"burst {number}")
            await answered(stands, prompt, timeout=1.0)
            await stored(stands, prompt)
            assert greenflash.pending_faults == 0
            prompts.append(prompt)
    for prompt in prompts:
        logged_once(stands, prompt, only_reply(stands, prompt))
    assert [record.status for record in greenflash.failed] == [500] * 9
    assert (bot.analytics.stats.failed, bot.analytics.stats.dropped) == (0, 0)


async def test_a_500_burst_longer_than_the_retries_is_a_counted_loss(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash = stands.greenflash
    greenflash.fail_next(500, times=1_000, headers={"retry-after-ms": "10"})
    async with watched_bot(stands, caplog) as bot:
        prompt = await stands.discord.send_message(CHAT_CHANNEL, "into the storm")
        await answered(stands, prompt, timeout=1.0)
        await until(lambda: bot.analytics.stats.failed >= 4, "the calls to be given up")
    only_reply(stands, prompt)
    assert greenflash.stored_messages() == []
    stats = bot.analytics.stats
    # identify user, identify guild, the prompt, the answer: each tried 1 + 2 times
    assert (stats.sent, stats.failed, stats.dropped) == (0, 4, 0), stats
    assert len(greenflash.failed) == 3 * stats.failed
    assert caplog.text.count("failed: InternalServerError (HTTP 500)") == 4


async def test_greenflash_taking_5s_delays_no_reply_and_loses_nothing(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash = stands.greenflash
    greenflash.latency = 5.0
    async with watched_bot(stands, caplog, timeout=6.0, drain_seconds=8.0) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        prompts = [await stands.discord.send_message(CHAT_CHANNEL, "slow analytics"),
                   await stands.discord.send_message(GENERAL_CHANNEL, "me too",
                                                     mention_bot=True)]
        for prompt in prompts:
            await answered(stands, prompt, timeout=1.0)
        assert loop.time() - started < 1.0
        assert greenflash.accepted == [], "Greenflash has answered nothing yet"
        assert bot.analytics.pending > 0
    for prompt in prompts:
        logged_once(stands, prompt, only_reply(stands, prompt))
    assert greenflash.max_in_flight <= bot.analytics.settings.max_in_flight
    assert greenflash.abandoned == []
    assert (bot.analytics.stats.failed, bot.analytics.stats.dropped) == (0, 0)


async def test_greenflash_connection_resets_are_retried(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash = stands.greenflash
    greenflash.drop_next(times=2)
    async with watched_bot(stands, caplog) as bot:
        prompts = [await stands.discord.send_message(CHAT_CHANNEL, f"reset {number}")
                   for number in range(2)]
        for prompt in prompts:
            await answered(stands, prompt, timeout=1.0)
        for prompt in prompts:
            await stored(stands, prompt)
    for prompt in prompts:
        logged_once(stands, prompt, only_reply(stands, prompt))
    assert [record.error for record in greenflash.failed] == ["dropped by drop_next()"] * 2
    assert (bot.analytics.stats.failed, bot.analytics.stats.dropped) == (0, 0)


# -- OpenAI ---------------------------------------------------------------------------------


def fail_with_429(stands: Stands) -> None:
    stands.openai.fail_next(429)


def fail_with_quota(stands: Stands) -> None:
    stands.openai.fail_next(429, body=INSUFFICIENT_QUOTA)


def fail_with_500(stands: Stands) -> None:
    stands.openai.fail_next(500)


def hang(stands: Stands) -> None:
    stands.openai.hang_next()


def cut_stream(stands: Stands) -> None:
    stands.openai.cut_stream_next(after_chars=24)


OPENAI_FAULTS: dict[str, tuple[Callable[[Stands], None], FailureKind, dict[str, Any]]] = {
    "429": (fail_with_429, FailureKind.RATE_LIMITED, {}),
    "quota": (fail_with_quota, FailureKind.QUOTA, {}),
    "500": (fail_with_500, FailureKind.SERVER_ERROR, {}),
    "timeout": (hang, FailureKind.TIMEOUT, {"openai_timeout": 1.0}),
    "stream-cut": (cut_stream, FailureKind.UNREACHABLE, {"stream_replies": True}),
}


@pytest.mark.parametrize(("inject", "kind", "settings"), OPENAI_FAULTS.values(),
                         ids=OPENAI_FAULTS.keys())
async def test_openai_failure_gets_the_polite_sentence_and_others_are_answered(
    stands: Stands,
    caplog: pytest.LogCaptureFixture,
    inject: Callable[[Stands], None],
    kind: FailureKind,
    settings: dict[str, Any],
) -> None:
    answer = "Here is a complete answer, long enough to be cut off mid-way."
    stands.openai.reply_with(lambda body: answer)
    inject(stands)
    async with watched_bot(stands, caplog, bot_settings(stands, **settings)):
        hit = await stands.discord.send_message(GENERAL_CHANNEL, "question", mention_bot=True)
        await stands.openai.wait_for_requests(1)
        others = [await stands.discord.send_message(CHAT_CHANNEL, "me next", author=BOB),
                  await stands.discord.send_message(DM_CAROL, "and me")]
        for prompt in others:
            await stored(stands, prompt)
        polite = await answered(stands, hit, timeout=5.0)
        if kind is FailureKind.TIMEOUT:
            assert int(polite["id"]) > max(int(only_reply(stands, p)["id"]) for p in others), (
                "others were answered while the model hung"
            )
        await until(lambda: events(stands, "reply_failed"), "the failure to be recorded")

    for prompt in others:
        reply = only_reply(stands, prompt)
        assert reply["content"] == answer
        logged_once(stands, prompt, reply)
    shown = only_reply(stands, hit)["content"]
    (event,) = events(stands, "reply_failed")
    assert (event["value"], event["insertId"]) == (str(kind), f"reply_failed:{hit['id']}")
    if kind is FailureKind.UNREACHABLE:
        assert shown == f"{answer[:24]}\n\n{CUT_OFF_MARKER} {POLITE[kind]}"
        logged_once(stands, hit, only_reply(stands, hit))
        (item,) = [item for item in stands.greenflash.stored_messages()
                   if item.get("parentExternalMessageId") == hit["id"]]
        assert (item["content"], item["properties"]["cut_off"]) == (shown, True)
    else:
        assert shown == POLITE[kind]
        logged_once(stands, hit, None)
    assert f"model call failed: kind={kind}" in caplog.text


async def test_openai_errors_within_the_sdk_retries_are_invisible(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    stands.openai.fail_next(500, headers={"retry-after-ms": "20"})
    stands.openai.fail_next(429, headers={"retry-after-ms": "20"})
    settings = bot_settings(stands, openai_max_retries=2)
    async with watched_bot(stands, caplog, settings):
        prompt = await stands.discord.send_message(GENERAL_CHANNEL, "try hard", mention_bot=True)
        await stored(stands, prompt)
    reply = only_reply(stands, prompt)
    assert reply["content"] == "echo: Alice: try hard"
    assert len(stands.openai.requests) == 3
    logged_once(stands, prompt, reply)
    assert events(stands, "reply_failed") == []


# -- Discord REST ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (429, {"message": "You are being rate limited.", "retry_after": 0.3, "global": False},
         {"Retry-After": "0.3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.3",
          "X-RateLimit-Scope": "user"}),
        (502, {"message": "502: Bad Gateway", "code": 0}, {}),
    ],
    ids=["429", "502"],
)
async def test_a_refused_send_is_retried_and_the_reply_arrives_once(
    stands: Stands,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    sends = rf"/channels/{GENERAL_CHANNEL}/messages"
    stands.discord.fail_next("POST", sends, status, body=body, headers=headers)
    async with watched_bot(stands, caplog) as bot:
        hit = await stands.discord.send_message(GENERAL_CHANNEL, "hello", mention_bot=True)
        other = await stands.discord.send_message(CHAT_CHANNEL, "hi", author=BOB)
        await answered(stands, other, timeout=1.0)  # not held up by the retried send
        await stored(stands, hit)
        await stored(stands, other)
    attempts = [request.status for request in stands.discord.requests
                if request.method == "POST" and request.path == sends]
    assert attempts == [status, 200]
    for prompt in (hit, other):
        logged_once(stands, prompt, only_reply(stands, prompt))
    assert bot.analytics.stats.failed == 0


async def test_no_permission_to_send_is_logged_and_others_are_served(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    stands.discord.deny_send(GENERAL_CHANNEL)
    async with watched_bot(stands, caplog):
        hit = await stands.discord.send_message(GENERAL_CHANNEL, "anyone?", mention_bot=True)
        bare = await stands.discord.send_message(GENERAL_CHANNEL, "", mention_bot=True)
        other = await stands.discord.send_message(CHAT_CHANNEL, "hi", author=BOB)
        await stored(stands, other)
        await until(lambda: "could not post notice" in caplog.text, "the notice to fail")
    assert stands.discord.sent_messages(GENERAL_CHANNEL) == []
    refused = [request for request in stands.discord.requests
               if request.path.startswith(f"/channels/{GENERAL_CHANNEL}/")
               and request.method == "POST"]
    assert refused and all(request.status == 403 for request in refused)
    assert f"could not post reply in channel {GENERAL_CHANNEL} to {hit['id']}" in caplog.text
    assert EMPTY_MENTION not in str(stands.discord.sent_messages())
    assert answers_to(stands.discord, bare["id"]) == []
    logged_once(stands, other, only_reply(stands, other))
    logged_once(stands, hit, None)


# -- Shutdown -------------------------------------------------------------------------------


async def test_sigterm_while_replying_leaves_nothing_behind(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    """Heroku's SIGTERM arrives while a reply is being written. That reply finishes; what
    arrives during the shutdown is refused or answered properly, and nothing outlives
    ``close()``: no reply task, no error."""
    stands.openai.latency = 1.0
    async with watched_bot(stands, caplog) as bot:
        in_progress = await stands.discord.send_message(GENERAL_CHANNEL, "slow one",
                                                        mention_bot=True)
        await stands.openai.wait_for_requests(1)
        closing = asyncio.create_task(bot.close())
        await until(lambda: not bot.accepting, "the shutdown to begin")
        stands.openai.latency = 2.0  # the late /ask's model call outlasts the first reply
        late_ask = await stands.discord.slash_command("ask", {"prompt": "late question"})
        late_message = await stands.discord.send_message(CHAT_CHANNEL, "late", author=BOB)
        await closing
        # Replies run inside discord.py's event tasks, so none is named for Chat: the
        # foreground count is what says a reply is still being written.
        assert bot.foreground.busy == 0, "no reply outlived close()"
        shown = [body.get("content") for body in [*late_ask.callbacks, *late_ask.followups]]
        assert late_ask.callbacks, "the late /ask was acknowledged"
        assert POLITE[FailureKind.UNREACHABLE] not in shown, (
            "the late /ask's model call was cut by the shutdown, not by OpenAI"
        )
    logged_once(stands, in_progress, only_reply(stands, in_progress))
    assert answers_to(stands.discord, late_message["id"]) == []


async def test_shutdown_grace_expiring_mid_reply_withdraws_the_partial_in_bound(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    """The grace ends while a reply is still streaming. The reply is cancelled, none of
    its REST calls (``tests/rest_guard.py`` fails the test otherwise); what it had
    streamed is deleted, so nobody is left with half an answer posing as a whole one (the
    question stays, to be asked again), and ``close()`` ends within the grace."""
    stands.openai.reply_with(lambda body: "word " * 400)
    stands.openai.chunk_size = 5
    stands.openai.chunk_delay = 0.05  # 20 s of streaming: far past the grace
    settings = bot_settings(stands, stream_replies=True, shutdown_grace_seconds=2.0)
    loop = asyncio.get_running_loop()
    async with watched_bot(stands, caplog, settings) as bot:
        prompt = await stands.discord.send_message(GENERAL_CHANNEL, "tell me at length",
                                                   mention_bot=True)
        partial = await answered(stands, prompt)
        started = loop.time()
        await bot.close()
        took = loop.time() - started
    assert took < settings.shutdown_grace_seconds
    assert int(partial["id"]) in stands.discord.deleted_message_ids
    assert answers_to(stands.discord, prompt["id"]) == []
    assert "withdrawing 1 unfinished reply" in caplog.text
    logged_once(stands, prompt, None)


# -- Gateway --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [4000, None], ids=["closed-4000", "tcp-reset"])
async def test_a_gateway_drop_mid_conversation_loses_and_doubles_nothing(
    stands: Stands, caplog: pytest.LogCaptureFixture, code: int | None
) -> None:
    answer = "A streamed answer that is still being written when the gateway drops. " * 3
    stands.openai.reply_with(
        lambda body: answer if "streaming" in body["messages"][-1]["content"] else "short"
    )
    stands.openai.chunk_size = 8
    stands.openai.chunk_delay = 0.02
    settings = bot_settings(stands, stream_replies=True)
    async with watched_bot(stands, caplog, settings):
        streaming = await stands.discord.send_message(GENERAL_CHANNEL, "streaming please",
                                                      mention_bot=True)
        await answered(stands, streaming)
        await stands.discord.drop_connection(code=code)
        in_the_gap = [
            await stands.discord.send_message(CHAT_CHANNEL, "sent in the gap", author=BOB),
            await stands.discord.send_message(DM_CAROL, "me too", author=CAROL),
            await stands.discord.send_message(GENERAL_CHANNEL, "and me", mention_bot=True),
        ]
        assert stands.discord.resume_count == 0, "these were queued, not delivered"
        for prompt in in_the_gap:
            await stored(stands, prompt, timeout=10)
        await stored(stands, streaming)
    assert stands.discord.resume_count == 1
    assert stands.discord.gateway.replayed_events >= len(in_the_gap)
    assert only_reply(stands, streaming)["content"] == answer
    for prompt in [streaming, *in_the_gap]:
        logged_once(stands, prompt, only_reply(stands, prompt))
    assert len(stands.openai.requests) == 1 + len(in_the_gap)
