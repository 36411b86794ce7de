"""Long and pathological answers end to end: bounded messages, the rest as a file, and
replies that Discord refuses part-way."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from bot.config.base import SettingsError, read_settings
from bot.config.settings import Settings
from bot.replies.writer import CUT_OFF_MARKER, DISCORD_REFUSED
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import until, use_environment
from tests.standins.discord_server import BOB, GENERAL_CHANNEL

DISCORD_LIMIT = 2000
BOUND = 10
ISSUE_ANSWER = "```npm install``` is the command you need, " + (
    "then run the build and check the output for any warnings before you deploy it " * 400
)


def test_the_message_bound_is_read_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k"})
    assert read_settings(Settings).reply_max_messages == BOUND
    for raw, expected in (("3", 3), ("0", None), ("ten", None)):
        monkeypatch.setenv("REPLY_MAX_MESSAGES", raw)
        if expected is not None:
            assert read_settings(Settings).reply_max_messages == expected
            continue
        with pytest.raises(SettingsError, match="REPLY_MAX_MESSAGES"):
            read_settings(Settings)


def visible(text: str) -> str:
    """Text without whitespace: what a split may drop at its cut points."""
    return re.sub(r"\s", "", text)


def assistant_items(stands: Stands) -> list[dict[str, Any]]:
    return [item for item in stands.greenflash.stored_messages() if item["role"] == "assistant"]


def failures(stands: Stands) -> list[dict[str, Any]]:
    return [r.json for r in stands.greenflash.accepted_for("/events")
            if r.json["eventType"] == "reply_failed"]


def uploads(stands: Stands) -> list[bytes]:
    return [file.data for r in stands.discord.requests if r.status == 200 for file in r.files]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
async def test_a_pathological_answer_is_bounded_with_the_rest_attached(
    stands: Stands, stream: bool
) -> None:
    assert len(ISSUE_ANSWER) > BOUND * DISCORD_LIMIT
    stands.openai.reply_with(
        lambda body: ISSUE_ANSWER if "install" in body["messages"][-1]["content"] else "next"
    )
    stands.openai.chunk_size = 2000
    settings = bot_settings(stands, stream_replies=stream, max_tokens=20_000)
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "how to install?", mention_bot=True)
        # Discord lets a channel take 5 messages per 5 s: the bound's parts take ~10 s.
        await stands.greenflash.wait_for_accepted("/messages", 2, timeout=30)
        await stands.discord.send_message(GENERAL_CHANNEL, "and then?", author=BOB,
                                          mention_bot=True)
        parts = await stands.discord.wait_for_messages(BOUND + 1, timeout=5)
    *answer_parts, next_answer = parts
    assert next_answer["content"] == "next", "the bot answers the next question at once"
    posts = [r for r in stands.discord.requests
             if r.method == "POST" and r.path == f"/channels/{GENERAL_CHANNEL}/messages"]
    assert len(posts) == BOUND + 1, "never more messages than the bound, even streaming"
    assert all(0 < len(part["content"]) <= DISCORD_LIMIT for part in answer_parts)
    (attachment,) = answer_parts[-1]["attachments"]
    assert attachment["filename"] == "answer.md"
    (rest,) = uploads(stands)
    assert ISSUE_ANSWER.endswith(rest.decode())
    shown = "".join(part["content"] for part in answer_parts)
    assert visible(shown + rest.decode()) == visible(ISSUE_ANSWER)
    (logged,) = [item for item in assistant_items(stands) if item["content"] != "next"]
    assert logged["content"] == ISSUE_ANSWER
    assert logged["properties"]["delivery"] == "messages+file"
    assert logged["properties"]["discord_messages"] == BOUND
    assert failures(stands) == []


async def test_an_answer_within_the_bound_is_messages_only(stands: Stands) -> None:
    answer = "word " * 900
    needed = math.ceil(len(answer.strip()) / DISCORD_LIMIT)
    stands.openai.script(answer)
    settings = bot_settings(stands, reply_max_messages=needed, max_tokens=4000)
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "several parts", mention_bot=True)
        await stands.greenflash.wait_for_accepted("/messages", 2)
    parts = stands.discord.sent_messages(GENERAL_CHANNEL)
    assert len(parts) == needed and all(part["attachments"] == [] for part in parts)
    (logged,) = assistant_items(stands)
    assert logged["properties"]["delivery"] == "messages"


async def test_a_streamed_part_deleted_by_a_moderator_is_posted_again(stands: Stands) -> None:
    answer = " ".join(f"word{i}" for i in range(200))
    stands.openai.script(answer)
    stands.openai.chunk_size = 20
    stands.openai.chunk_delay = 0.03
    async with running_bot(stands, bot_settings(stands, stream_replies=True)):
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        (first,) = await stands.discord.wait_for_messages(1)
        await stands.discord.delete_message(GENERAL_CHANNEL, int(first["id"]))
        await stands.greenflash.wait_for_accepted("/events", 1)
        await stands.greenflash.wait_for_accepted("/messages", 2)
    (reply,) = stands.discord.sent_messages(GENERAL_CHANNEL)
    assert reply["message_reference"]["message_id"] == sent["id"]  # posted again as the answer
    assert reply["content"] == answer
    (logged,) = assistant_items(stands)
    assert (logged["content"], logged["externalMessageId"]) == (answer, reply["id"])
    (event,) = failures(stands)
    assert (event["value"], event["insertId"]) == ("message_deleted", f"reply_failed:{sent['id']}")
    assert event["properties"] == {"partial": False, "recovered": True}


async def test_a_send_denied_mid_reply_marks_what_was_shown(stands: Stands) -> None:
    answer = "\n".join(f"line {i:03d} " + "x" * 60 for i in range(90))  # three parts
    stands.openai.script(answer)
    stands.openai.chunk_size = 40
    stands.openai.chunk_delay = 0.01
    settings = bot_settings(stands, stream_replies=True, max_tokens=4000)
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "long one", mention_bot=True)
        await stands.discord.wait_for_messages(1)
        stands.discord.deny_send(GENERAL_CHANNEL)
        await stands.greenflash.wait_for_accepted("/events", 1)
        await stands.greenflash.wait_for_accepted("/messages", 2)
        (shown,) = await until(
            lambda: [m for m in stands.discord.sent_messages(GENERAL_CHANNEL)
                     if DISCORD_REFUSED in m["content"]], "the cut-off note")
    assert shown["content"].endswith(f"\n\n{CUT_OFF_MARKER} {DISCORD_REFUSED}")
    refused = [r for r in stands.discord.requests if r.method == "POST" and r.status == 403]
    assert refused, "Discord refused the second part"
    (logged,) = assistant_items(stands)
    body = shown["content"].removesuffix(f"\n\n{CUT_OFF_MARKER} {DISCORD_REFUSED}")
    assert answer.startswith(body)
    assert logged["content"] == shown["content"], "Greenflash has the reply as the user saw it"
    assert logged["properties"]["cut_off"] is True
    (event,) = failures(stands)
    assert event["value"] == "discord_refused"
    assert event["properties"] == {"partial": True}
