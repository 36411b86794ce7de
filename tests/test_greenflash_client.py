"""Analytics through the real greenflash SDK (aiohttp transport) and the Greenflash stand-in."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import greenflash
import pytest

from bot.analytics.calls import Analytics
from bot.analytics.outage import never_sent
from bot.config.products import ProductConfig
from bot.conversation.exchange import Prompt, Reply, Trigger, Usage
from bot.greenflash_client import GreenflashSettings, build_client
from tests.helpers import (
    DEFAULT_PROMPT_OBJECT,
    TEST_PRODUCT,
    greenflash_settings,
    make_analytics,
    until,
)
from tests.standins.greenflash_server import GreenflashStandIn

ASKED = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def prompt(**overrides: object) -> Prompt:
    values: dict[str, object] = {
        "text": "How do I reset my password?",
        "message_id": 1001,
        "created_at": ASKED,
        "user_id": 42,
        "user_name": "Alice",
        "username": "alice",
        "account_name": "Alice",
        "channel_id": 7,
        "channel_name": "general",
        "guild_id": 99,
        "guild_name": "Alpha Guild",
        "trigger": Trigger.MENTION,
    }
    return Prompt(**(values | overrides))  # type: ignore[arg-type]


def reply(**overrides: object) -> Reply:
    values: dict[str, object] = {
        "text": "Use the account page.",
        "message_ids": (2002, 2003),
        "created_at": ASKED + timedelta(seconds=2),
        "model": "gpt-4o-mini-2024-07-18",
        "latency_ms": 1234,
        "usage": Usage(30, 12),
    }
    return Reply(**(values | overrides))  # type: ignore[arg-type]


async def test_user_then_assistant_message_fields(greenflash_standin: GreenflashStandIn) -> None:
    analytics = make_analytics(greenflash_standin.base_url)
    await analytics.log_user_message(prompt())
    await analytics.log_assistant_message(prompt(), reply())
    await analytics.close()
    user, assistant = (record.json for record in greenflash_standin.accepted_for("/messages"))
    assert user == {
        "productId": TEST_PRODUCT,
        "externalUserId": "42",
        "externalConversationId": "7",
        "externalOrganizationId": "99",
        "model": "gpt-4o-mini",
        "systemPrompt": DEFAULT_PROMPT_OBJECT,
        "properties": {"platform": "discord", "channel_name": "general",
                       "persona": "default", "guild_name": "Alpha Guild"},
        "messages": [{
            "role": "user",
            "content": "How do I reset my password?",
            "externalMessageId": "1001",
            "createdAt": "2026-11-25T12:00:00+00:00",
            "properties": {"trigger": "mention", "truncated": False,
                           "discord_user_id": "42", "discord_user_name": "Alice"},
        }],
    }
    assert assistant["externalUserId"] == "42"
    assert assistant["model"] == "gpt-4o-mini-2024-07-18"
    assert assistant["messages"] == [{
        "role": "assistant",
        "content": "Use the account page.",
        "externalMessageId": "2002",
        "parentExternalMessageId": "1001",
        "createdAt": "2026-11-25T12:00:02+00:00",
        "model": "gpt-4o-mini-2024-07-18",
        "properties": {"trigger": "mention", "latency_ms": 1234, "prompt_tokens": 30,
                       "completion_tokens": 12, "discord_messages": 2, "cut_off": False,
                       "finish_reason": None, "refusal": False,
                       "in_reply_to_user_id": "42", "in_reply_to_user_name": "Alice",
                       "delivery": "messages"},
    }]


async def test_dm_has_no_organization_and_goes_to_default_product(
    greenflash_standin: GreenflashStandIn,
) -> None:
    products = ProductConfig(default_product_id="prod-default", guild_products={99: "prod-99"})
    analytics = make_analytics(greenflash_standin.base_url, products)
    await analytics.log_user_message(prompt(guild_id=None, guild_name=None, trigger=Trigger.DM))
    await analytics.log_user_message(prompt(message_id=1002))
    await analytics.close()
    dm, guild = (record.json for record in greenflash_standin.accepted_for("/messages"))
    assert "externalOrganizationId" not in dm
    assert dm["productId"] == "prod-default"
    assert guild["productId"] == "prod-99"
    assert greenflash_standin.organizations.keys() == {"99"}


async def test_users_and_guilds_identified_once_and_again_on_rename(
    greenflash_standin: GreenflashStandIn,
) -> None:
    analytics = make_analytics(greenflash_standin.base_url)
    for message_id in range(5):
        await analytics.log_user_message(prompt(message_id=message_id))
    analytics.identify_guild(99, "Alpha Guild Renamed")
    await analytics.close()
    users = greenflash_standin.accepted_for("/users")
    organizations = greenflash_standin.accepted_for("/organizations")
    assert [record.json["externalUserId"] for record in users] == ["42"]
    assert users[0].json["name"] == "Alice"
    assert users[0].json["properties"]["username"] == "alice"
    assert [record.json["name"] for record in organizations] == [
        "Alpha Guild", "Alpha Guild Renamed"
    ]


async def test_failure_is_logged_once_with_class_and_conversation_never_the_key(
    greenflash_standin: GreenflashStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash_standin.fail_next(500, times=3, headers={"retry-after-ms": "10"})
    analytics = make_analytics(greenflash_standin.base_url)
    with caplog.at_level(logging.WARNING, logger="bot.greenflash_client"):
        await analytics.log_assistant_message(prompt(), reply())
        await analytics.close()
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert failures == ["greenflash assistant message failed: InternalServerError (HTTP 500) "
                        "conversation=7"]
    assert analytics.stats.failed == 1
    assert "gf-test-key" not in caplog.text


async def test_in_flight_calls_are_bounded_and_all_delivered(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.latency = 0.05
    analytics = make_analytics(greenflash_standin.base_url, max_in_flight=3)
    for message_id in range(30):
        analytics.keep(asyncio.create_task(
            analytics.log_assistant_message(prompt(), reply(message_ids=(message_id,)))
        ))
    assert analytics.pending == 30
    await analytics.close()
    assert greenflash_standin.max_in_flight == 3
    assert len(greenflash_standin.accepted_for("/messages")) == 30
    assert analytics.pending == 0


async def test_backlog_past_max_pending_is_dropped_and_counted(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.latency = 0.05
    analytics = make_analytics(greenflash_standin.base_url, max_pending=5)
    for message_id in range(8):
        analytics.keep(asyncio.create_task(
            analytics.log_assistant_message(prompt(), reply(message_ids=(message_id,)))
        ))
    await analytics.close()
    assert analytics.stats.dropped == 3
    assert len(greenflash_standin.accepted_for("/messages")) == 5


async def test_close_delivers_slow_calls_within_the_bound(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.latency = 0.5
    analytics = make_analytics(greenflash_standin.base_url)
    analytics.keep(asyncio.create_task(analytics.log_user_message(prompt())))
    assert await analytics.close(grace=3.0) == 0
    assert len(greenflash_standin.accepted_for("/messages")) == 1


async def test_close_reports_what_could_not_be_sent(
    greenflash_standin: GreenflashStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    await greenflash_standin.down()
    analytics = make_analytics(greenflash_standin.base_url, max_retries=10)
    for message_id in range(4):
        analytics.keep(asyncio.create_task(
            analytics.log_assistant_message(prompt(), reply(message_ids=(message_id,)))
        ))
    grace = 1.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING):
        unsent = await analytics.close(grace=grace)
    # The calls had their whole grace, then were dropped rather than awaited through ten
    # retries: all four are counted as not sent, none as failed.
    assert loop.time() - started >= grace
    assert unsent == 4
    assert (analytics.stats.dropped, analytics.stats.failed) == (4, 0)
    assert "greenflash: 4 call(s) not sent before shutdown" in caplog.text


async def test_recovery_within_retry_window_stores_each_message_once(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.fail_next(429, headers={"retry-after-ms": "50"})
    greenflash_standin.drop_next()
    analytics = make_analytics(greenflash_standin.base_url)
    await analytics.log_user_message(prompt())
    await analytics.log_assistant_message(prompt(), reply())
    await analytics.close()
    stored = greenflash_standin.stored_messages("7")
    assert [item["externalMessageId"] for item in stored] == ["1001", "2002"]
    assert analytics.stats.failed == 0


async def test_without_key_or_product_nothing_is_sent(
    greenflash_standin: GreenflashStandIn,
) -> None:
    no_key = Analytics(None, ProductConfig(default_product_id="p"), model="m",
                       system_prompt="s", settings=GreenflashSettings(api_key=None))
    no_product = make_analytics(greenflash_standin.base_url, ProductConfig())
    for analytics in (no_key, no_product):
        assert not analytics.enabled
        await analytics.log_user_message(prompt())
        await analytics.close()
    assert no_key.disabled_reason() == "GREENFLASH_API_KEY is not set"
    assert "products.toml" in (no_product.disabled_reason() or "")
    assert greenflash_standin.accepted == []
    assert greenflash_standin.failed == []


async def test_ratings_and_events(greenflash_standin: GreenflashStandIn) -> None:
    analytics = make_analytics(greenflash_standin.base_url)
    await analytics.rate(guild_id=99, conversation_id=7, message_id=2002, rating=1,
                         rating_min=-1, rating_max=1, rated_at=ASKED)
    for _ in range(2):
        await analytics.record_event("reply_failed", guild_id=99, conversation_id=7, user_id=42,
                                     source_id=1001, influence="negative", value="timeout")
    await analytics.close()
    (rating,) = greenflash_standin.accepted_for("/ratings")
    assert rating.json == {"productId": TEST_PRODUCT, "rating": 1, "ratingMin": -1,
                           "ratingMax": 1, "externalConversationId": "7",
                           "externalMessageId": "2002", "ratedAt": "2026-11-25T12:00:00+00:00"}
    events = greenflash_standin.accepted_for("/events")
    assert {record.json["insertId"] for record in events} == {"reply_failed:1001"}
    assert events[0].json["influence"] == "negative"


async def test_an_outage_holds_calls_and_sends_each_once_when_greenflash_is_back(
    greenflash_standin: GreenflashStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    analytics = make_analytics(greenflash_standin.base_url, max_retries=0)
    await greenflash_standin.outage(2.5)
    with caplog.at_level(logging.INFO):
        for message_id in range(3):
            analytics.keep(asyncio.create_task(
                analytics.log_assistant_message(prompt(), reply(message_ids=(message_id,)))
            ))
        await until(lambda: analytics.reachability.down, "the outage to be noticed")
        assert (analytics.pending, analytics.stats.failed) == (3, 0)
        assert greenflash_standin.accepted == []
        assert await analytics.close(grace=5.0) == 0
    assert analytics.stats.failed == 0, "held through the outage, not failed (max_retries=0)"
    stored = greenflash_standin.stored_messages("7")
    assert sorted(item["externalMessageId"] for item in stored) == ["0", "1", "2"]
    assert caplog.text.count("greenflash unreachable (APITimeoutError)") == 1  # aiohttp: refused
    assert "greenflash still unreachable" in caplog.text  # the retries 1 s and 2 s in
    assert "greenflash reachable again" in caplog.text
    assert not analytics.reachability.down


async def test_one_person_with_two_guild_nicknames_is_identified_once(
    greenflash_standin: GreenflashStandIn,
) -> None:
    analytics = make_analytics(greenflash_standin.base_url)
    for message_id in range(4):
        in_alpha = message_id % 2 == 0
        await analytics.log_user_message(prompt(
            message_id=message_id, user_name="Ally" if in_alpha else "Alice of Beta",
            guild_id=99 if in_alpha else 100, guild_name="Alpha" if in_alpha else "Beta",
        ))
    await analytics.close()
    users = greenflash_standin.accepted_for("/users")
    assert [(record.json["externalUserId"], record.json["name"]) for record in users] == [
        ("42", "Alice")
    ]
    names = [item["properties"]["discord_user_name"]
             for item in greenflash_standin.stored_messages()]
    assert names == ["Ally", "Alice of Beta", "Ally", "Alice of Beta"]


def rating_of(analytics: Analytics, rating: float = 1) -> object:
    return analytics.rate(guild_id=99, conversation_id=7, message_id=2002, rating=rating,
                          rating_min=-1, rating_max=1, rated_at=ASKED, feedback="1 👍 0 👎")


async def test_a_rating_stored_but_answered_too_late_is_stored_once(
    greenflash_standin: GreenflashStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash_standin.answer_late_next(3.0, path="/ratings")
    # With the SDK's retries on, a timed-out call is sent again: 3 attempts here.
    analytics = make_analytics(greenflash_standin.base_url, timeout=0.5, max_retries=2)
    with caplog.at_level(logging.WARNING, logger="bot.greenflash_client"):
        await rating_of(analytics)
        await analytics.close()
    assert [rating["rating"] for rating in greenflash_standin.ratings] == [1]
    assert len(greenflash_standin.accepted_for("/ratings")) == 1
    assert (analytics.stats.sent, analytics.stats.failed) == (0, 1)
    assert "rating failed: APITimeoutError (sent, no answer: outcome unknown)" in caplog.text


async def test_a_rating_that_never_reached_greenflash_is_held_and_stored_once(
    greenflash_standin: GreenflashStandIn,
) -> None:
    analytics = make_analytics(greenflash_standin.base_url)
    await greenflash_standin.outage(1.5)
    await rating_of(analytics, -1)
    await analytics.close()
    assert [rating["rating"] for rating in greenflash_standin.ratings] == [-1]
    assert (analytics.stats.sent, analytics.stats.failed) == (1, 0)


async def test_an_event_held_through_an_outage_keeps_the_time_it_happened(
    greenflash_standin: GreenflashStandIn,
) -> None:
    outage = 1.5
    analytics = make_analytics(greenflash_standin.base_url, max_retries=0)
    await greenflash_standin.outage(outage)
    loop = asyncio.get_running_loop()
    started, happened = loop.time(), datetime.now(UTC)
    await asyncio.gather(
        analytics.record_event("reply_failed", guild_id=99, conversation_id=7, user_id=42,
                               source_id=1001, influence="negative", value="timeout"),
        analytics.record_event("prompt_deleted", guild_id=99, conversation_id=7, user_id=None,
                               source_id=1002, influence="neutral", value="deleted",
                               occurred_at=ASKED),
    )
    assert loop.time() - started >= outage
    await analytics.close()
    events = {record.json["eventType"]: record.json
              for record in greenflash_standin.accepted_for("/events")}
    stamped = datetime.fromisoformat(events["reply_failed"]["eventAt"])
    assert timedelta(0) <= stamped - happened < timedelta(seconds=outage / 3)
    assert events["prompt_deleted"]["eventAt"] == ASKED.isoformat()
    assert "externalUserId" not in events["prompt_deleted"]


async def test_a_slow_greenflash_is_not_held_as_if_down(
    greenflash_standin: GreenflashStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash_standin.latency = 1.0  # above the client's timeout: slow, not down
    analytics = make_analytics(greenflash_standin.base_url, timeout=0.3, max_retries=0)
    with caplog.at_level(logging.INFO):
        await analytics.log_assistant_message(prompt(), reply(message_ids=(1,)))
        assert not analytics.reachability.down
        assert analytics.stats.failed == 1
        greenflash_standin.latency = 0.0
        await analytics.log_assistant_message(prompt(), reply(message_ids=(2,)))
        await analytics.close()
    assert [item["externalMessageId"] for item in greenflash_standin.stored_messages()] == ["2"]
    assert (analytics.stats.sent, analytics.stats.failed) == (1, 1)
    assert "outcome unknown" in caplog.text
    assert "greenflash unreachable" not in caplog.text


@pytest.mark.parametrize(("fault", "reached"), [("refused", False), ("late", True),
                                                ("cut", True)])
async def test_telling_a_refused_connection_from_a_late_or_cut_answer(
    greenflash_standin: GreenflashStandIn, fault: str, reached: bool
) -> None:
    if fault == "refused":
        await greenflash_standin.down()
    elif fault == "late":
        greenflash_standin.latency = 1.0
    else:
        greenflash_standin.drop_next()
    client = build_client(greenflash_settings(greenflash_standin.base_url, timeout=0.3,
                                              max_retries=0))
    assert client is not None
    try:
        with pytest.raises(greenflash.APITimeoutError) as caught:  # the SDK: all alike
            await client.users.create(external_user_id="42")
    finally:
        await client.close()
    assert never_sent(caught.value) is not reached
