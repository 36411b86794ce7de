"""Streaming replies by paced message edits, through the OpenAI stand-in's SSE stream."""

from __future__ import annotations

import asyncio
import math

from bot.config.settings import Settings
from bot.conversation.failures import POLITE, FailureKind
from bot.replies.writer import CUT_OFF_MARKER
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.standins.discord_rest import MAX_CONTENT
from tests.standins.discord_server import GENERAL_CHANNEL


def streaming(stands: Stands, **overrides: object) -> Settings:
    return bot_settings(stands, stream_replies=True, **overrides)


def edits_of(stands: Stands, message_id: str) -> list[dict]:
    return [r.json for r in stands.discord.requests
            if r.method == "PATCH" and r.path.endswith(f"/messages/{message_id}")]


async def test_streamed_answer_is_one_message_created_then_edited(stands: Stands) -> None:
    answer = " ".join(f"word{i}" for i in range(120))  # ~ 840 characters
    stands.openai.script(answer)
    stands.openai.chunk_size = 10
    stands.openai.chunk_delay = 0.03  # ~84 chunks → ~2.5 s of streaming
    async with running_bot(stands, streaming(stands)) as bot:
        interval = bot.chat.edit_interval
        started = asyncio.get_running_loop().time()
        await stands.discord.send_message(GENERAL_CHANNEL, "stream it", mention_bot=True)
        (message,) = await stands.discord.wait_for_messages(1)
        first_visible = asyncio.get_running_loop().time() - started
        first_text = message["content"]
        await stands.discord.wait_for(
            lambda r: r.method == "PATCH" and r.json and r.json.get("content") == answer,
            timeout=6,
        )
        duration = asyncio.get_running_loop().time() - started
        await stands.greenflash.wait_for_accepted("/messages", 2)
    assert len(first_text) < len(answer), "the first text shows before the end"
    assert first_visible < 1.0
    edits = edits_of(stands, message["id"])
    bound = math.ceil(duration / interval) + 1  # one edit per interval, plus the last
    assert 1 <= len(edits) <= bound, (len(edits), duration)
    assert stands.discord.sent_messages(GENERAL_CHANNEL)[-1]["content"] == answer
    (logged,) = [r.json for r in stands.greenflash.accepted_for("/messages")
                 if r.json["messages"][0]["role"] == "assistant"]
    assert logged["messages"][0]["content"] == answer
    assert logged["messages"][0]["externalMessageId"] == message["id"]


async def test_a_5000_character_stream_ends_in_as_few_messages_as_the_limit_allows(
    stands: Stands,
) -> None:
    code = "\n".join(f"    value_{i:04d} = compute({i})  # step" for i in range(140))
    answer = f"Intro line.\n```python\n{code}\n```\nOutro."
    assert len(answer) > 5000
    expected = math.ceil(len(answer) / MAX_CONTENT)  # Discord's limit per message
    stands.openai.script(answer)
    stands.openai.chunk_size = 250
    async with running_bot(stands, streaming(stands, max_tokens=4000)):
        await stands.discord.send_message(GENERAL_CHANNEL, "long code", mention_bot=True)
        await stands.discord.wait_for_messages(expected)
        await stands.greenflash.wait_for_accepted("/messages", 2)  # logged once fully shown
    parts = [m["content"] for m in stands.discord.sent_messages(GENERAL_CHANNEL)]
    assert len(parts) == expected
    assert all(sum(line.startswith("```") for line in part.split("\n")) % 2 == 0
               for part in parts)
    assert parts[-1].endswith("Outro.")
    (logged,) = [r.json for r in stands.greenflash.accepted_for("/messages")
                 if r.json["messages"][0]["role"] == "assistant"]
    assert logged["messages"][0]["content"] == answer
    assert logged["messages"][0]["properties"]["discord_messages"] == expected


async def test_a_cut_stream_keeps_the_text_marks_it_and_apologises(stands: Stands) -> None:
    stands.openai.script("This answer starts well but then the connection drops.")
    stands.openai.cut_stream_next(after_chars=22)
    async with running_bot(stands, streaming(stands)):
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        await stands.discord.wait_for(
            lambda r: r.method == "PATCH" and CUT_OFF_MARKER in (r.json or {}).get("content", ""),
            timeout=5,
        )
        await stands.greenflash.wait_for_accepted("/messages", 2)
        await stands.greenflash.wait_for_accepted("/events", 1)
    shown = stands.discord.sent_messages(GENERAL_CHANNEL)[-1]["content"]
    expected = f"This answer starts wel\n\n{CUT_OFF_MARKER} {POLITE[FailureKind.UNREACHABLE]}"
    assert shown == expected
    (logged,) = [r.json for r in stands.greenflash.accepted_for("/messages")
                 if r.json["messages"][0]["role"] == "assistant"]
    assert logged["messages"][0]["content"] == expected
    assert logged["messages"][0]["properties"]["cut_off"] is True
    (event,) = [r.json for r in stands.greenflash.accepted_for("/events")]
    assert event["eventType"] == "reply_failed"
    assert event["insertId"] == f"reply_failed:{sent['id']}"
    assert event["properties"] == {"partial": True}


async def test_streaming_can_be_turned_off(stands: Stands) -> None:
    async with running_bot(stands, bot_settings(stands, stream_replies=False)):
        await stands.discord.send_message(GENERAL_CHANNEL, "no stream", mention_bot=True)
        await stands.discord.wait_for_messages(1)
    assert stands.openai.requests[-1].get("stream") in (None, False)
    assert [r for r in stands.discord.requests if r.method == "PATCH"] == []


async def test_ask_streams_through_its_followup(stands: Stands) -> None:
    answer = " ".join(f"token{i}" for i in range(60))
    stands.openai.script(answer)
    stands.openai.chunk_size = 12
    stands.openai.chunk_delay = 0.02
    async with running_bot(stands, streaming(stands)):
        interaction = await stands.discord.slash_command("ask", {"prompt": "stream please"})
        await interaction.wait_for_followup(1)
        await stands.discord.wait_for(
            lambda r: r.method == "PATCH" and (r.json or {}).get("content") == answer, timeout=5
        )
    assert stands.openai.requests[-1]["stream"] is True
    assert interaction.followups[0]["content"] != answer
