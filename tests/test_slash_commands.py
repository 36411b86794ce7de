"""Slash commands through the real app-command tree: /ask, /reset, /help, /feedback."""

from __future__ import annotations

import asyncio

from bot.client import ChatBot
from cogs.commands import BAD_OPTIONS
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import pings_nobody
from tests.standins.discord_server import GENERAL_CHANNEL

DEFERRED = 5
MESSAGE = 4
EPHEMERAL = 1 << 6


async def test_commands_are_synced_once_not_on_every_start(stands: Stands) -> None:
    async with running_bot(stands):
        pass
    async with running_bot(stands):
        pass
    uploads = [r for r in stands.discord.requests
               if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(uploads) == 1
    assert {command["name"] for command in uploads[0].json} == {"ask", "reset", "help",
                                                                "feedback"}


async def test_ask_defers_at_once_then_follows_up(stands: Stands) -> None:
    stands.openai.latency = 0.3
    stands.openai.script("Paris.")
    async with running_bot(stands, bot_settings(stands, stream_replies=False)):
        interaction = await stands.discord.slash_command(
            "ask", {"prompt": "Capital of France?"}, channel_id=GENERAL_CHANNEL
        )
        callback = await interaction.wait_for_callback()
        assert callback["type"] == DEFERRED
        assert stands.openai.requests == [] or len(stands.openai.requests) == 1
        (followup,) = await interaction.wait_for_followup(1)
    assert followup["content"] == "Paris."
    assert pings_nobody(followup["allowed_mentions"])
    assert stands.openai.requests[-1]["messages"][-1] == {
        "role": "user", "content": "Alice: Capital of France?"
    }


async def test_help_is_ephemeral_and_names_model_and_analytics(
    stands: Stands, bot: ChatBot
) -> None:
    interaction = await stands.discord.slash_command("help")
    callback = await interaction.wait_for_callback()
    assert callback["type"] == MESSAGE
    assert callback["data"]["flags"] & EPHEMERAL
    text = str(callback["data"]["embeds"])
    assert "gpt-4o-mini" in text
    assert "analytics" in text


async def test_unknown_and_malformed_options_get_a_clear_ephemeral_answer(
    stands: Stands, bot: ChatBot
) -> None:
    unknown = await stands.discord.slash_command(
        "ask", [{"name": "question", "type": 3, "value": "hi"}]
    )
    wrong_type = await stands.discord.slash_command(
        "feedback", [{"name": "rating", "type": 3, "value": "great"}]
    )
    out_of_range = await stands.discord.slash_command("feedback", {"rating": 9})
    for interaction in (unknown, wrong_type, out_of_range):
        callback = await interaction.wait_for_callback()
        assert callback["data"]["flags"] & EPHEMERAL
        assert callback["data"]["content"] == BAD_OPTIONS
    await asyncio.sleep(0.1)
    assert stands.openai.requests == []
    assert stands.greenflash.accepted_for("/ratings") == []
