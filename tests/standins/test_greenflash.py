"""The Greenflash stand-in speaks the API closely enough for the real SDK, faults included."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import greenflash
import pytest

from bot.analytics.outage import never_sent
from tests.helpers import until
from tests.standins.greenflash_server import GreenflashStandIn

PRODUCT = "prod-standin"


def client_for(standin: GreenflashStandIn, **options: Any) -> greenflash.AsyncGreenflash:
    """The real async client on the aiohttp transport, as the bot builds it."""
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 2.0)
    return greenflash.AsyncGreenflash(
        api_key="test",
        base_url=standin.base_url,
        http_client=greenflash.DefaultAioHttpClient(),
        **options,
    )


async def log_message(
    client: greenflash.AsyncGreenflash,
    message_id: str = "m1",
    conversation: str = "channel-1",
    **extra: Any,
) -> Any:
    return await client.messages.create(
        product_id=PRODUCT,
        external_user_id="user-1",
        external_conversation_id=conversation,
        messages=[{"role": "user", "content": "hello", "external_message_id": message_id}],
        **extra,
    )


async def test_message_round_trip_sends_camel_case(greenflash_standin: GreenflashStandIn) -> None:
    client = client_for(greenflash_standin)
    try:
        response = await client.messages.create(
            product_id=PRODUCT,
            external_user_id="user-1",
            external_conversation_id="channel-1",
            external_organization_id="guild-1",
            model="gpt-4o-mini",
            system_prompt="You are terse.",
            properties={"platform": "discord"},
            messages=[{
                "role": "assistant",
                "content": "hi there",
                "external_message_id": "m2",
                "parent_external_message_id": "m1",
                "created_at": "2025-01-02T03:04:05+00:00",
                "properties": {"latency_ms": 12},
            }],
        )
    finally:
        await client.close()

    assert response.success
    assert response.messages[0].status == "created"
    assert response.messages[0].message_type == "assistant_message"
    assert response.messages[0].external_message_id == "m2"
    [record] = greenflash_standin.accepted_for("/messages")
    assert record.json == {
        "productId": PRODUCT,
        "externalUserId": "user-1",
        "externalConversationId": "channel-1",
        "externalOrganizationId": "guild-1",
        "model": "gpt-4o-mini",
        "systemPrompt": "You are terse.",
        "properties": {"platform": "discord"},
        "messages": [{
            "role": "assistant",
            "content": "hi there",
            "externalMessageId": "m2",
            "parentExternalMessageId": "m1",
            "createdAt": "2025-01-02T03:04:05+00:00",
            "properties": {"latency_ms": 12},
        }],
    }
    assert record.headers["authorization"] == "Bearer test"
    assert "Bearer test" not in repr(record)
    [stored] = greenflash_standin.stored_messages("channel-1")
    assert stored["content"] == "hi there"
    assert stored["externalUserId"] == "user-1"
    assert stored["model"] == "gpt-4o-mini"
    assert stored["properties"] == {"latency_ms": 12}
    assert stored["conversationProperties"] == {"platform": "discord"}
    assert stored["conversationId"] == response.conversation_id


async def test_users_organizations_ratings_and_events_round_trip(
    greenflash_standin: GreenflashStandIn,
) -> None:
    client = client_for(greenflash_standin)
    try:
        user = await client.users.create(
            external_user_id="user-1", name="Alice", external_organization_id="guild-1"
        )
        organization = await client.organizations.create(
            external_organization_id="guild-1", name="The Guild"
        )
        rating = await client.ratings.log(
            product_id=PRODUCT, rating=-1, rating_min=-1, rating_max=1, external_message_id="m2"
        )
        first = await client.events.create(
            event_type="reply_failed", product_id=PRODUCT, value="timeout",
            influence="negative", insert_id="reply_failed:42",
        )
        again = await client.events.create(
            event_type="reply_failed", product_id=PRODUCT, value="timeout",
            influence="negative", insert_id="reply_failed:42",
        )
    finally:
        await client.close()

    assert user.participant.external_id == "user-1"
    assert user.participant.name == "Alice"
    assert user.participant.organization_id == organization.organization.id
    assert organization.organization.name == "The Guild"
    assert rating.success
    assert first.event_id == again.event_id
    assert greenflash_standin.accepted_for("/users")[0].json == {
        "externalUserId": "user-1", "name": "Alice", "externalOrganizationId": "guild-1",
    }
    assert greenflash_standin.accepted_for("/ratings")[0].json == {
        "productId": PRODUCT, "rating": -1, "ratingMin": -1, "ratingMax": 1,
        "externalMessageId": "m2",
    }
    assert greenflash_standin.accepted_for("/events")[0].json["insertId"] == "reply_failed:42"


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        pytest.param(
            lambda c: log_message(c, extra_body={"externalUserId": 1234}),
            "externalUserId: expected a string", id="int-user-id"),
        pytest.param(
            lambda c: log_message(c, extra_body={"externalConversationId": 99}),
            "externalConversationId: expected a string", id="int-conversation-id"),
        pytest.param(
            lambda c: log_message(c, extra_body={"messages": [
                {"role": "user", "content": "x", "externalMessageId": 7}]}),
            "messages[0].externalMessageId: expected a string", id="int-message-id"),
        pytest.param(
            lambda c: c.messages.create(external_user_id="u", external_conversation_id="c",
                                        messages=[{"role": "user", "content": "x"}]),
            "productId: Required", id="missing-product-id"),
        pytest.param(
            lambda c: c.messages.create(external_user_id="u", product_id=PRODUCT, messages=[]),
            "messages: expected a non-empty array", id="empty-messages"),
        pytest.param(
            lambda c: c.messages.create(
                external_user_id="u", product_id=PRODUCT,
                messages=[{"role": "user", "message_type": "user_message", "content": "x"}]),
            "exactly one of role / messageType", id="role-and-message-type"),
        pytest.param(
            lambda c: c.messages.create(external_user_id="u", product_id=PRODUCT,
                                        messages=[{"content": "x"}]),
            "exactly one of role / messageType", id="neither-role-nor-type"),
        pytest.param(
            lambda c: c.ratings.log(product_id=PRODUCT, rating=3, rating_min=1, rating_max=5),
            "must be provided", id="rating-without-target"),
        pytest.param(
            lambda c: c.ratings.log(product_id=PRODUCT, rating=2, rating_min=-1, rating_max=1,
                                    external_message_id="m1"),
            "rating (2) must be between", id="rating-out-of-range"),
        pytest.param(
            lambda c: c.events.create(event_type="x", product_id=PRODUCT, value="",
                                      extra_body={"value": 5}),
            "value: expected a string", id="event-value-not-a-string"),
        pytest.param(
            lambda c: c.users.create(external_user_id="", name="nobody"),
            "externalUserId: must not be empty", id="empty-user-id"),
        pytest.param(  # MessageItemParam.properties: Dict[str, object]
            lambda c: log_message(c, extra_body={"messages": [
                {"role": "user", "content": "x", "properties": ["discord_user_id", "1"]}]}),
            "messages[0].properties: expected an object", id="item-properties-not-an-object"),
        pytest.param(  # EventCreateParams.event_at: an ISO 8601 timestamp
            lambda c: c.events.create(event_type="x", product_id=PRODUCT, value="v",
                                      extra_body={"eventAt": "yesterday"}),
            "eventAt: expected an ISO-8601 date-time string", id="event-at-not-a-date"),
    ],
)
async def test_invalid_requests_are_bad_request_errors(
    greenflash_standin: GreenflashStandIn, call: Any, problem: str
) -> None:
    client = client_for(greenflash_standin)
    try:
        with pytest.raises(greenflash.BadRequestError) as caught:
            await call(client)
    finally:
        await client.close()
    assert caught.value.status_code == 400
    assert problem in str(caught.value)
    assert greenflash_standin.accepted == []
    assert [record.status for record in greenflash_standin.failed] == [400]
    assert greenflash_standin.stored_messages() == []


async def test_429_is_retried_by_the_sdk_and_recorded_once_each_way(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.fail_next(429, headers={"retry-after-ms": "20"})
    client = client_for(greenflash_standin, max_retries=2)
    try:
        response = await log_message(client)
    finally:
        await client.close()
    assert response.messages[0].status == "created"
    [failed] = greenflash_standin.failed
    [accepted] = greenflash_standin.accepted_for("/messages")
    assert failed.status == 429
    assert accepted.json == failed.json
    assert accepted.headers["x-stainless-retry-count"] == "1"
    assert accepted.received_at - failed.received_at >= 0.02
    assert len(greenflash_standin.stored_messages()) == 1


async def test_429_without_retries_is_a_rate_limit_error(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.fail_next(429, headers={"Retry-After": "1"})
    greenflash_standin.fail_next(500)
    client = client_for(greenflash_standin)
    try:
        with pytest.raises(greenflash.RateLimitError) as rate_limited:
            await log_message(client)
        with pytest.raises(greenflash.InternalServerError):
            await log_message(client)
    finally:
        await client.close()
    assert rate_limited.value.response.headers["retry-after"] == "1"
    assert [record.status for record in greenflash_standin.failed] == [429, 500]


async def test_repeated_external_message_id_is_deduplicated_per_conversation(
    greenflash_standin: GreenflashStandIn,
) -> None:
    client = client_for(greenflash_standin)
    try:
        first = await log_message(client, "m1", "channel-1")
        repeat = await log_message(client, "m1", "channel-1")
        elsewhere = await log_message(client, "m1", "channel-2")
    finally:
        await client.close()
    assert first.messages[0].status == "created"
    assert repeat.messages[0].status == "deduplicated"
    assert repeat.messages[0].message_id == first.messages[0].message_id
    assert elsewhere.messages[0].status == "created"
    assert len(greenflash_standin.accepted) == 3
    assert len(greenflash_standin.stored_messages("channel-1")) == 1
    assert len(greenflash_standin.stored_messages("channel-2")) == 1
    assert len(greenflash_standin.stored_messages()) == 2


async def test_dropped_connection_is_an_api_connection_error(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.drop_next()
    client = client_for(greenflash_standin)
    try:
        with pytest.raises(greenflash.APIConnectionError):
            await log_message(client)
        after = await log_message(client, "m2")
    finally:
        await client.close()
    [dropped] = greenflash_standin.failed
    assert dropped.status is None
    assert dropped.json["messages"][0]["externalMessageId"] == "m1"
    assert after.success
    assert [m["externalMessageId"] for m in greenflash_standin.stored_messages()] == ["m2"]


async def test_down_refuses_connections_and_up_serves_again_on_the_same_port(
    greenflash_standin: GreenflashStandIn,
) -> None:
    base_url = greenflash_standin.base_url
    client = client_for(greenflash_standin)
    try:
        await log_message(client, "m1")  # leaves a pooled keep-alive connection behind
        await greenflash_standin.down()
        assert not greenflash_standin.is_up
        for message_id in ("m2", "m3"):  # the pooled connection is reset, then refused
            with pytest.raises(greenflash.APIConnectionError):
                await log_message(client, message_id)
        await greenflash_standin.up()
        await log_message(client, "m4")
    finally:
        await client.close()
    assert greenflash_standin.base_url == base_url
    stored = [m["externalMessageId"] for m in greenflash_standin.stored_messages()]
    assert stored == ["m1", "m4"]
    assert greenflash_standin.failed == []  # nothing reached it while it was down


async def test_down_resets_a_request_in_progress(greenflash_standin: GreenflashStandIn) -> None:
    greenflash_standin.latency = 5.0
    client = client_for(greenflash_standin, timeout=10.0)
    try:
        pending = asyncio.create_task(log_message(client))
        await until(lambda: greenflash_standin.in_flight == 1, "the request to arrive")
        started = time.monotonic()
        await greenflash_standin.down()
        with pytest.raises(greenflash.APIConnectionError):
            await pending
        # Ended by the reset, not by the stand-in answering or the client giving up.
        assert time.monotonic() - started < greenflash_standin.latency
    finally:
        await client.close()
    await until(lambda: greenflash_standin.abandoned, "the reset request to be recorded")
    assert len(greenflash_standin.abandoned) == 1
    assert greenflash_standin.in_flight == 0


async def test_outage_then_recovery(greenflash_standin: GreenflashStandIn) -> None:
    client = client_for(greenflash_standin)
    try:
        await greenflash_standin.outage(1.0)
        with pytest.raises(greenflash.APIConnectionError) as failure:
            await log_message(client)
        # Refused at connect, not timed out waiting (read off the error, not a clock: a
        # loaded machine may be slow). The SDK reports both as APITimeoutError; the aiohttp
        # error underneath tells them apart (bot/analytics/outage.py).
        assert never_sent(failure.value)
        causes, error = [], failure.value.__cause__
        while error is not None:
            causes.append(error)
            error = error.__cause__ or error.__context__
        assert any(isinstance(cause, aiohttp.ClientConnectorError) for cause in causes)
        await until(lambda: greenflash_standin.is_up, "the outage to end")
        response = await log_message(client)
    finally:
        await client.close()
    assert response.success


async def test_latency_beyond_the_timeout_is_an_api_timeout_error(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.latency = 0.5
    client = client_for(greenflash_standin, timeout=0.1)
    try:
        with pytest.raises(greenflash.APITimeoutError):
            await log_message(client)
    finally:
        await client.close()
    # The server notices the disconnect a moment later.
    await until(lambda: greenflash_standin.abandoned, "the abandoned request to be recorded")
    assert len(greenflash_standin.abandoned) == 1
    assert greenflash_standin.accepted == []
    assert greenflash_standin.in_flight == 0


async def test_max_in_flight_counts_concurrent_requests(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.latency = 0.1
    client = client_for(greenflash_standin)
    try:
        await asyncio.gather(*(log_message(client, f"m{i}") for i in range(5)))
    finally:
        await client.close()
    assert greenflash_standin.max_in_flight == 5
    assert greenflash_standin.in_flight == 0
    assert len(await greenflash_standin.wait_for_accepted("/messages", 5)) == 5


async def test_products_list_pages(greenflash_standin: GreenflashStandIn) -> None:
    greenflash_standin.products = [{"id": "p1", "name": "One"}, {"id": "p2", "name": "Two"}]
    client = client_for(greenflash_standin)
    try:
        everything = await client.products.list()
        second_page = await client.products.list(page=2, page_size=1)
    finally:
        await client.close()
    assert [(p.id, p.name) for p in everything] == [("p1", "One"), ("p2", "Two")]
    assert [p.id for p in second_page] == ["p2"]
    assert greenflash_standin.accepted_for("/products")[1].query == {"page": "2", "pageSize": "1"}


async def test_valid_key_rejects_other_keys(greenflash_standin: GreenflashStandIn) -> None:
    greenflash_standin.valid_key = "gf-right"
    client = client_for(greenflash_standin)
    try:
        with pytest.raises(greenflash.AuthenticationError):
            await client.products.list()
    finally:
        await client.close()
    assert [record.status for record in greenflash_standin.failed] == [401]


async def test_environment_base_url_and_wait_for_accepted(
    greenflash_standin: GreenflashStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENFLASH_BASE_URL", greenflash_standin.base_url)
    monkeypatch.setenv("GREENFLASH_API_KEY", "from-env")
    client = greenflash.AsyncGreenflash(http_client=greenflash.DefaultAioHttpClient())
    try:
        task = asyncio.create_task(log_message(client))
        [record] = await greenflash_standin.wait_for_accepted("/api/v1/messages", 1)
        await task
        with pytest.raises(TimeoutError, match="expected 2 accepted /messages"):
            await greenflash_standin.wait_for_accepted("/messages", 2, timeout=0.05)
    finally:
        await client.close()
    assert record.headers["authorization"] == "Bearer from-env"


async def test_a_late_answer_is_stored_although_the_client_gave_up(
    greenflash_standin: GreenflashStandIn,
) -> None:
    greenflash_standin.answer_late_next(2.0, path="/ratings")
    client = client_for(greenflash_standin, timeout=0.3)
    try:
        with pytest.raises(greenflash.APITimeoutError):
            await client.ratings.log(product_id=PRODUCT, rating=1, rating_min=-1,
                                     rating_max=1, external_message_id="m1")
        await client.ratings.log(product_id=PRODUCT, rating=-1, rating_min=-1, rating_max=1,
                                 external_message_id="m1")
    finally:
        await client.close()
    assert [rating["rating"] for rating in greenflash_standin.ratings] == [1, -1]


async def test_past_the_bound_old_records_are_compacted_and_counts_and_dedupe_stay_exact() -> None:
    kept = 3
    async with GreenflashStandIn(records_kept=kept) as standin:
        client = client_for(standin)
        try:
            first = await log_message(client, "m0", "channel-1")
            for n in range(1, 2 * kept):
                await log_message(client, f"m{n}", "channel-1")
            for n in range(kept + 1):
                await client.ratings.log(product_id=PRODUCT, rating=n, rating_min=0,
                                         rating_max=5, external_message_id=f"m{n}",
                                         feedback="a long remark " * 50)
            repeat = await log_message(client, "m0", "channel-1")
            standin.fail_next(500, times=kept + 1)
            for n in range(kept + 1):
                with pytest.raises(greenflash.InternalServerError):
                    await log_message(client, f"late{n}", "channel-1")
        finally:
            await client.close()

    # m0 fell past the bound long before it came again: still deduplicated to its id.
    assert repeat.messages[0].status == "deduplicated"
    assert repeat.messages[0].message_id == first.messages[0].message_id
    logged = 2 * kept + 1 + kept + 1  # messages then ratings then the repeat, all accepted
    assert len(standin.accepted) == logged
    assert [r.json for r in standin.accepted[:-kept]] == [None] * (logged - kept)
    assert all(r.headers == {} and r.status == 200 for r in standin.accepted[:-kept])
    assert all(r.json is not None for r in standin.accepted[-kept:])
    stored = standin.stored_messages("channel-1")
    assert [m["externalMessageId"] for m in stored] == [f"m{n}" for n in range(2 * kept)]
    assert all("content" not in m for m in stored[:-kept])
    assert all(m["content"] == "hello" for m in stored[-kept:])
    assert [r["rating"] for r in standin.ratings] == list(range(kept + 1))
    assert "feedback" not in standin.ratings[0]
    assert standin.ratings[0]["externalMessageId"] == "m0"
    assert all("feedback" in r for r in standin.ratings[-kept:])
    assert [r.status for r in standin.failed] == [500] * (kept + 1)
    assert standin.failed[0].json is None
    assert standin.failed[-1].json["messages"][0]["externalMessageId"] == f"late{kept}"
