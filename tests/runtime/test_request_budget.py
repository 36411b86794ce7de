"""Discord's invalid-request budget: counted per rolling 10 minutes, frugal past half."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.runtime.request_budget import (
    DISCORD_INVALID_LIMIT,
    WINDOW_SECONDS,
    RequestBudget,
    route_of,
)
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import until
from tests.standins.discord_server import GENERAL_CHANNEL

TYPING = "POST /channels/{id}/typing"


def reactions(stands: Stands) -> int:
    return len([r for r in stands.discord.requests
                if r.method == "PUT" and "/reactions/" in r.path and r.status == 204])


async def reply_to(stands: Stands, text: str) -> None:
    prompt = await stands.discord.send_message(GENERAL_CHANNEL, text, mention_bot=True)
    await until(lambda: [m for m in stands.discord.sent_messages(GENERAL_CHANNEL)
                         if m["message_reference"]["message_id"] == prompt["id"]],
                f"the reply to {text}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_discords_numbers() -> None:
    """Discord's docs ("Rate Limits" → "Invalid Request Limit"): 10 000 in 10 minutes."""
    budget = RequestBudget()
    assert (budget.limit, budget.window) == (10_000, 600.0)
    assert (DISCORD_INVALID_LIMIT, WINDOW_SECONDS) == (10_000, 600.0)


def test_past_half_the_limit_optional_traffic_stops_and_the_routes_are_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "bot.runtime.request_budget")
    clock = Clock()
    budget = RequestBudget(clock=clock)
    half = DISCORD_INVALID_LIMIT // 2
    for n in range(half - 1):
        budget.record(429 if n % 2 else 403, TYPING if n % 3 else "PUT /x")
        budget.record(200, TYPING)  # a success is not invalid
        budget.record(404, TYPING)  # nor is a 404 (Discord counts 401, 403, 429)
    assert budget.count() == half - 1
    assert budget.optional_allowed() and budget.edit_interval_factor() == 1.0
    assert not caplog.records
    budget.record(401, TYPING)
    assert not budget.optional_allowed()
    assert budget.edit_interval_factor() > 1.0
    (warning,) = caplog.records
    assert str(half) in warning.getMessage() and TYPING in warning.getMessage()
    budget.record(429, TYPING)
    assert len(caplog.records) == 1  # warned once per crossing
    clock.now += WINDOW_SECONDS  # the window rolls past every one of them
    assert budget.count() == 0
    assert budget.optional_allowed()
    assert budget.total == half + 1


def test_the_window_is_rolling_not_fixed() -> None:
    clock = Clock()
    budget = RequestBudget(limit=10, clock=clock)
    for _ in range(4):
        budget.record(429, TYPING)
        clock.now += WINDOW_SECONDS / 4
    # The first fell out just now; the other three are within the last 10 minutes.
    assert budget.count() == 3


def test_near_discords_global_limit_optional_traffic_waits() -> None:
    """Discord's global limit is 50 requests a second, and discord.py learns of it only
    from a 429: the budget backs off at 70 % of it, before Discord refuses."""
    clock = Clock()
    budget = RequestBudget(clock=clock)
    for _ in range(34):  # below 70 % of 50 in one second
        budget.sent()
    assert budget.optional_allowed() and budget.edit_interval_factor() == 1.0
    budget.sent()
    assert not budget.optional_allowed()
    assert budget.edit_interval_factor() > 1.0
    clock.now += 1.0
    assert budget.optional_allowed() and budget.edit_interval_factor() == 1.0


@given(st.lists(st.integers(min_value=10**15, max_value=2**63 - 1), min_size=1, max_size=4),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=20, max_size=80))
def test_routes_carry_no_ids_or_tokens(ids: list[int], token: str) -> None:
    channel, *rest = ids
    path = f"/api/v10/channels/{channel}/messages/" + "/".join(map(str, rest))
    assert route_of("PATCH", path).startswith("PATCH /channels/{id}/messages")
    assert not any(str(i) in route_of("PATCH", path) for i in ids)
    hook = f"/api/v10/webhooks/{channel}/{token}/messages/@original"
    assert route_of("PATCH", hook) == "PATCH /webhooks/{id}/{token}/messages/@original"
    emoji = f"/api/v10/channels/{channel}/messages/{channel}/reactions/%F0%9F%91%8D/@me"
    assert route_of("PUT", emoji) == "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me"


async def test_the_bot_counts_what_discord_refuses_and_then_saves_typing_and_reactions(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    """Every 403 on the typing indicator is counted through discord.py's HTTP session; once
    half the (here lowered) limit is spent, the next reply sends no typing indicator and
    no feedback reactions, where the earlier replies had both."""
    caplog.set_level(logging.INFO)
    stands.openai.latency = 0.8  # typing starts at 0.5 s
    stands.discord.fail_next("POST", r"/channels/\d+/typing", 403, times=3)
    settings = bot_settings(stands, feedback_reactions=True)
    async with running_bot(stands, settings) as bot:
        bot.request_budget.limit = 6  # threshold 3
        for n in range(2):
            await stands.discord.send_message(GENERAL_CHANNEL, f"q{n}", mention_bot=True)
            await stands.discord.until(  # both feedback reactions on these replies
                lambda n=n: reactions(stands) >= 2 * (n + 1) or None, 10, f"reply {n}")
        third = len(stands.discord.requests)
        await reply_to(stands, "q2")  # its typing indicator is the third 403
        assert bot.request_budget.count() == 3
        assert not bot.request_budget.optional_allowed()
        fourth = len(stands.discord.requests)
        await reply_to(stands, "q3")
    assert [r for r in stands.discord.requests[third:] if "/reactions/" in r.path] == []
    assert [r for r in stands.discord.requests[fourth:] if r.path.endswith("/typing")] == []
    assert any(TYPING in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    closing = [r.getMessage() for r in caplog.records if r.getMessage().startswith("closed:")]
    assert closing and "3 invalid Discord requests" in closing[0]
