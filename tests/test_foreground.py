"""Replies before analytics: Greenflash calls wait while a reply is being produced."""

from __future__ import annotations

import asyncio

from bot.client import ChatBot
from bot.foreground import Foreground
from tests.bot_harness import Stands
from tests.standins.discord_server import GENERAL_CHANNEL


async def test_idle_at_once_when_no_reply_is_in_progress() -> None:
    foreground = Foreground(limit=5)
    await asyncio.wait_for(foreground.idle(), timeout=0.1)


async def test_idle_waits_for_the_last_reply_to_end() -> None:
    foreground = Foreground(limit=5)
    with foreground.reply():
        with foreground.reply():
            waiter = asyncio.create_task(foreground.idle())
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert not waiter.done()
        assert foreground.busy == 1
    await asyncio.wait_for(waiter, timeout=0.1)
    assert foreground.busy == 0


async def test_idle_gives_up_waiting_after_the_limit() -> None:
    foreground = Foreground(limit=0.1)
    loop = asyncio.get_running_loop()
    with foreground.reply():
        started = loop.time()
        await foreground.idle()
        assert 0.1 <= loop.time() - started < 1


async def test_the_users_message_is_logged_once_the_reply_is_out(
    stands: Stands, bot: ChatBot
) -> None:
    stands.openai.latency = 0.5
    stands.openai.script("Take your time.")
    await stands.discord.send_message(GENERAL_CHANNEL, "slow one?", mention_bot=True)
    await stands.openai.wait_for_requests(1)
    await asyncio.sleep(0.3)
    assert bot.analytics.pending >= 1  # the task exists from the moment of receipt...
    assert stands.greenflash.accepted_for("/messages") == []  # ...but waits for the reply
    await stands.discord.wait_for_messages(1, channel_id=GENERAL_CHANNEL)
    logged = await stands.greenflash.wait_for_accepted("/messages", 2)
    assert sorted(record.json["messages"][0]["role"] for record in logged) == [
        "assistant", "user"]


async def test_a_long_reply_does_not_hold_analytics_back_past_the_limit(
    stands: Stands, bot: ChatBot
) -> None:
    bot.foreground.limit = 0.2
    stands.openai.latency = 1.0
    stands.openai.script("Very slow.")
    await stands.discord.send_message(GENERAL_CHANNEL, "slow one?", mention_bot=True)
    (logged,) = await stands.greenflash.wait_for_accepted("/messages", 1, timeout=0.9)
    assert logged.json["messages"][0]["role"] == "user"
    assert stands.discord.sent_messages(GENERAL_CHANNEL) == []  # the reply is still coming
