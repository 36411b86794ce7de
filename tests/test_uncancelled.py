"""Cancelling the bot's own work never wedges discord.py's HTTP client."""

from __future__ import annotations

import asyncio

from bot.uncancelled import uncancelled
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.standins.discord_server import GENERAL_CHANNEL

GLOBAL_429 = {"message": "You are being rate limited.", "retry_after": 1.0, "global": True}


async def test_a_cancelled_caller_leaves_the_call_running_to_its_end() -> None:
    finished = asyncio.Event()

    async def call() -> str:
        await asyncio.sleep(0.1)
        finished.set()
        return "done"

    caller = asyncio.create_task(uncancelled(call()))
    await asyncio.sleep(0.01)
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
