"""Replies before analytics: Greenflash calls wait while a reply is being produced."""

from __future__ import annotations

import asyncio
import time

from bot.client import ChatBot
from bot.runtime.foreground import Foreground
from tests.bot_harness import Stands
from tests.standins.discord_server import GENERAL_CHANNEL

TURNS = 2
"""Loop turns for a waiter to start, wake and finish once nothing holds it: one suffices,
as the positive half of each test below shows, so the negative half waits long enough."""


async def turns_of_the_loop() -> None:
    for _ in range(TURNS):
        await asyncio.sleep(0)


async def test_idle_at_once_when_no_reply_is_in_progress() -> None:
    foreground = Foreground(limit=5)
    waiter = asyncio.create_task(foreground.idle())
    await turns_of_the_loop()
    assert waiter.done()


async def test_idle_waits_for_the_last_reply_to_end() -> None:
    foreground = Foreground(limit=5)
    with foreground.reply():
        with foreground.reply():
            waiter = asyncio.create_task(foreground.idle())
            await turns_of_the_loop()
        await turns_of_the_loop()
        assert not waiter.done(), "one reply is still in progress"
        assert foreground.busy == 1
    await turns_of_the_loop()
    assert waiter.done(), "the last reply ended"
    assert foreground.busy == 0


async def test_idle_gives_up_waiting_after_the_limit() -> None:
    foreground = Foreground(limit=0.1)
    loop = asyncio.get_running_loop()
    with foreground.reply():
        started = loop.time()
        async with asyncio.timeout(10 * foreground.limit):  # (only so a bug cannot hang)
            await foreground.idle()  # returns although the reply is still in progress
        assert loop.time() - started >= foreground.limit


def user_messages_sent(stands: Stands) -> list[object]:
    """Every ``/messages`` call that reached Greenflash, accepted or not."""
    return [*stands.greenflash.accepted_for("/messages"),
            *stands.greenflash.failed_for("/messages")]


async def test_the_users_message_is_logged_once_the_reply_is_out(
    stands: Stands, bot: ChatBot
) -> None:
    stands.openai.latency = 0.5
    stands.openai.script("Take your time.")
    await stands.discord.send_message(GENERAL_CHANNEL, "slow one?", mention_bot=True)
    await stands.discord.wait_for(
        lambda r: r.method == "POST" and r.path == f"/channels/{GENERAL_CHANNEL}/messages"
    )
    # The reply is being posted: the user's message, received a model call earlier, waits.
    assert bot.analytics.pending >= 1
    assert user_messages_sent(stands) == []
    logged = await stands.greenflash.wait_for_accepted("/messages", 2)
    assert sorted(record.json["messages"][0]["role"] for record in logged) == [
        "assistant", "user"]


async def test_a_long_reply_does_not_hold_analytics_back_past_the_limit(
    stands: Stands, bot: ChatBot
) -> None:
    bot.foreground.limit = 0.2
    stands.openai.latency = 5 * bot.foreground.limit
    stands.openai.script("Very slow.")
    asked = time.monotonic()  # the Greenflash stand-in's clock
    await stands.discord.send_message(GENERAL_CHANNEL, "slow one?", mention_bot=True)
    (logged,) = await stands.greenflash.wait_for_accepted("/messages", 1)
    assert logged.json["messages"][0]["role"] == "user"
    assert logged.received_at - asked >= bot.foreground.limit, "held back while replying"
    assert stands.discord.sent_messages(GENERAL_CHANNEL) == [], "the reply is still coming"
