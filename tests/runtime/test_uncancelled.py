"""Cancelling the bot's own work never wedges discord.py's HTTP client."""

from __future__ import annotations

import asyncio

import pytest
from discord.http import HTTPClient, Route

from bot.runtime import discord_patches
from bot.runtime.uncancelled import uncancelled
from tests import rest_guard
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import until
from tests.standins.discord_server import GENERAL_CHANNEL, DiscordStandIn

GLOBAL_429 = {"message": "You are being rate limited.", "retry_after": 1.0, "global": True}


async def test_a_cancelled_caller_leaves_the_call_running_to_its_end() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def call() -> str:
        started.set()
        await asyncio.sleep(0.1)  # a call still running when its caller is cancelled
        finished.set()
        return "done"

    caller = asyncio.create_task(uncancelled(call()))
    await asyncio.wait_for(started.wait(), timeout=1)
    caller.cancel()
    await asyncio.wait([caller])
    assert caller.cancelled()
    await asyncio.wait_for(finished.wait(), timeout=1)


async def test_typing_stopped_during_a_global_rate_limit_does_not_block_later_sends(
    stands: Stands,
) -> None:
    stands.discord.fail_next("POST", r"/channels/\d+/typing", 429, body=GLOBAL_429)
    stands.openai.latency = 0.9  # typing starts at 0.5 s, the first words stop it at 0.9 s
    async with running_bot(stands, bot_settings(stands, stream_replies=True)):
        await stands.discord.send_message(GENERAL_CHANNEL, "first", mention_bot=True)
        await stands.discord.wait_for_messages(1, channel_id=GENERAL_CHANNEL, timeout=5)
        stands.openai.latency = 0
        await stands.discord.send_message(GENERAL_CHANNEL, "second", mention_bot=True)
        replies = await stands.discord.wait_for_messages(2, channel_id=GENERAL_CHANNEL)
    assert len(replies) == 2
    typing = [r.status for r in stands.discord.requests if r.path.endswith("/typing")]
    assert typing[:2] == [429, 204]  # discord.py slept off the limit and retried


# -- discord.py's global lock (bot/runtime/discord_patches.py) -------------------------------------

WEDGE_429 = {"message": "You are being rate limited.", "retry_after": 1.5, "global": True}


async def cancelled_in_global_sleep(discord: DiscordStandIn) -> HTTPClient:
    """A bare discord.py HTTP client, logged in, whose typing request was cancelled while
    discord.py slept off a global 429."""
    http = HTTPClient(asyncio.get_running_loop())
    await http.static_login(discord.token)
    discord.fail_next("POST", rf"/channels/{GENERAL_CHANNEL}/typing", 429, body=WEDGE_429)
    route = Route("POST", "/channels/{channel_id}/typing", channel_id=GENERAL_CHANNEL)
    typing = asyncio.create_task(http.request(route))
    await discord.wait_for(lambda r: r.path.endswith("/typing") and r.status == 429)
    await until(lambda: not http._global_over.is_set(), "discord.py to close its global lock")
    typing.cancel()
    await asyncio.wait([typing])
    return http


@pytest.mark.cancels_rest
async def test_without_the_patch_a_request_cancelled_in_a_global_sleep_wedges_the_client(
    discord_standin: DiscordStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HTTPClient, "request", discord_patches.ORIGINAL_REQUEST)
    with discord_standin.redirect():
        http = await cancelled_in_global_sleep(discord_standin)
        after = asyncio.create_task(http.request(Route("GET", "/users/@me")))
        # Twice the 429's retry_after: the patched client is answered well within it.
        done, _ = await asyncio.wait([after], timeout=2 * WEDGE_429["retry_after"])
        wedged = not done and not http._global_over.is_set()
        http._global_over.set()  # release it, so the test can end
        await after
        await http.close()
    assert wedged, "the request after the cancelled one should hang without the patch"


@pytest.mark.cancels_rest
async def test_with_the_patch_the_lock_reopens_and_the_next_request_is_answered(
    discord_standin: DiscordStandIn,
) -> None:
    assert discord_patches.patched()
    with discord_standin.redirect():
        http = await cancelled_in_global_sleep(discord_standin)
        reopened = http._global_over.is_set()
        me = await asyncio.wait_for(http.request(Route("GET", "/users/@me")),
                                    timeout=2 * WEDGE_429["retry_after"])
        await http.close()
    assert reopened
    assert me["id"] == str(discord_standin.world.bot_id)
    # The runtime guard (tests/rest_guard.py) saw the cancellation it exists to catch.
    assert [c.route for c in rest_guard.cancelled_requests] == [
        "POST /channels/{channel_id}/typing"]
