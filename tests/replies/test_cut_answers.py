"""Answers the token limit cut short, and refusals, as the user sees and Greenflash logs them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.exchange import LENGTH_NOTE
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.standins.discord_server import CHAT_CHANNEL


async def assistant_logged(stands: Stands) -> dict[str, Any]:
    await stands.greenflash.wait_for_accepted("/messages", 2)
    (item,) = [
        item for record in stands.greenflash.accepted_for("/messages")
        for item in record.json["messages"] if item["role"] == "assistant"
    ]
    return item


@pytest.mark.parametrize("stream", [False, True])
async def test_a_length_cut_answer_says_so_and_is_logged_cut_off(
    stands: Stands, stream: bool
) -> None:
    stands.openai.script_reply("Step one: open the", finish_reason="length")
    async with running_bot(stands, bot_settings(stands, stream_replies=stream)):
        await stands.discord.send_message(CHAT_CHANNEL, "how do I do it?")
        item = await assistant_logged(stands)
        (reply,) = stands.discord.sent_messages(CHAT_CHANNEL)
    assert reply["content"] == f"Step one: open the\n\n{LENGTH_NOTE}"
    assert item["content"] == reply["content"]
    assert item["properties"]["cut_off"] is True
    assert item["properties"]["finish_reason"] == "length"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_refusal_is_shown_and_flagged(stands: Stands, stream: bool) -> None:
    stands.openai.script_refusal("I can't help with that.")
    async with running_bot(stands, bot_settings(stands, stream_replies=stream)):
        await stands.discord.send_message(CHAT_CHANNEL, "something forbidden")
        item = await assistant_logged(stands)
        (reply,) = stands.discord.sent_messages(CHAT_CHANNEL)
    assert reply["content"] == "I can't help with that."
    assert item["properties"]["refusal"] is True
    assert item["properties"]["cut_off"] is False
