"""Slash commands through the real app-command tree: /ask, /reset, /help, /feedback."""

from __future__ import annotations

from bot.client import ChatBot
from bot.runtime.command_tree import BAD_OPTIONS
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import pings_nobody
from tests.standins.discord_server import BOB, GENERAL_CHANNEL

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
    assert {command["name"] for command in uploads[0].json} == {
        "ask", "reset", "help", "feedback", "persona", "model", "budget", "threads", "insights",
        "knowledge",
    }


async def test_ask_defers_at_once_then_follows_up(stands: Stands) -> None:
    # Discord refuses a first callback later than its deadline (3 s; shortened here) and the
    # model answers only after it: the bot must acknowledge before the answer exists.
    stands.discord.interaction_deadline = 1.0
    stands.openai.latency = 1.5 * stands.discord.interaction_deadline
    stands.openai.script("Paris.")
    async with running_bot(stands, bot_settings(stands, stream_replies=False)):
        interaction = await stands.discord.slash_command(
            "ask", {"prompt": "Capital of France?"}, channel_id=GENERAL_CHANNEL
        )
        callback = await interaction.wait_for_callback()
        assert callback["type"] == DEFERRED
        (followup,) = await interaction.wait_for_followup(1, timeout=2 * stands.openai.latency)
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
    (privacy,) = [field["value"] for field in callback["data"]["embeds"][0]["fields"]
                  if field["name"] == "Privacy"]
    assert "text of files attached" in privacy
    assert "Images are shown to the AI model, never to Greenflash" in privacy
    (looks_up,) = [field["value"] for field in callback["data"]["embeds"][0]["fields"]
                   if field["name"] == "I can look up"]
    assert "channels and threads you can read" in looks_up
    assert "knowledge base" in looks_up
    assert "the web" not in looks_up, "no search backend is configured in tests"


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
    # Well-formed ones after them: their effects show the bad ones had their chance.
    ask = await stands.discord.slash_command("ask", {"prompt": "fine question"}, user=BOB)
    await ask.wait_for_followup(1)
    rate = await stands.discord.slash_command("feedback", {"rating": 2}, user=BOB)
    await rate.wait_for_callback()
    await stands.greenflash.wait_for_accepted("/ratings", 1)
    await bot.analytics.close()  # sends whatever is still held back
    (model_call,) = stands.openai.requests
    assert model_call["messages"][-1]["content"] == "Bob: fine question"
    sent = [*stands.greenflash.accepted_for("/ratings"), *stands.greenflash.failed_for("/ratings")]
    assert [r.json["rating"] for r in sent] == [2], "none sent for the bad ones, even refused"
