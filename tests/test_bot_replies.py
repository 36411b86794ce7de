"""How replies are posted: splitting, no pings, failures, cooldowns and bad input."""

from __future__ import annotations

import asyncio

import pytest

from bot.client import ChatBot
from bot.llm import POLITE, FailureKind
from bot.notices import ATTACHMENTS_ONLY, EMPTY_MENTION
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import pings_nobody
from tests.standins.discord_server import BOB, CHAT_CHANNEL, GENERAL_CHANNEL
from tests.standins.openai_server import INSUFFICIENT_QUOTA

CODE_REPLY = "Here is the script:\n```python\n" + "\n".join(
    f"print('line {i:03d} of the generated program')  # padding" for i in range(80)
) + "\n```\nThat's all."


def fences_balanced(text: str) -> bool:
    return sum(1 for line in text.split("\n") if line.strip().startswith("```")) % 2 == 0


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
async def test_long_reply_is_split_without_breaking_code(stands: Stands, stream: bool) -> None:
    settings = bot_settings(stands, stream_replies=stream, max_tokens=4000)
    stands.openai.script(CODE_REPLY)
    stands.openai.chunk_size = 400
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "write code", mention_bot=True)
        # Logged once complete on Discord (the user's message, then the reply).
        await stands.greenflash.wait_for_accepted("/messages", 2, timeout=15)
        parts = stands.discord.sent_messages(GENERAL_CHANNEL)
    assert len(CODE_REPLY) > 4000
    assert len(parts) == 3
    for part in parts:
        assert len(part["content"]) <= 2000
        assert fences_balanced(part["content"])
    assert parts[0]["content"].startswith("Here is the script:\n```python\n")
    assert parts[1]["content"].startswith("```python\n")
    assert parts[2]["content"].endswith("```\nThat's all.")


async def test_model_output_pings_nobody(stands: Stands, bot: ChatBot) -> None:
    stands.openai.script("@everyone <@&123> <@456> read this")
    await stands.discord.send_message(GENERAL_CHANNEL, "ping them all", mention_bot=True)
    (reply,) = await stands.discord.wait_for_messages(1)
    assert reply["content"] == "@everyone <@&123> <@456> read this"
    posts = [r for r in stands.discord.requests if r.method in {"POST", "PATCH"}
             and "/messages" in r.path]
    assert posts
    assert all(pings_nobody(r.json["allowed_mentions"]) for r in posts)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 429, "body": INSUFFICIENT_QUOTA}, FailureKind.QUOTA),
        ({"status": 500}, FailureKind.SERVER_ERROR),
        ("hang", FailureKind.TIMEOUT),
        ("refused", FailureKind.UNREACHABLE),
    ],
    ids=["quota", "server-error", "timeout", "refused"],
)
async def test_model_failure_gives_one_polite_sentence(
    stands: Stands, fault: object, kind: FailureKind
) -> None:
    settings = bot_settings(stands, openai_timeout=1.0)
    async with running_bot(stands, settings):
        if fault == "hang":
            stands.openai.hang_next()
        elif fault == "refused":
            await stands.openai.stop()
        else:
            stands.openai.fail_next(**fault)  # type: ignore[arg-type]
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "hello", mention_bot=True)
        (reply,) = await stands.discord.wait_for_messages(1)
        assert reply["content"] == POLITE[kind]
        assert reply["message_reference"]["message_id"] == sent["id"]
        await stands.discord.send_message(GENERAL_CHANNEL, "still alive?", author=BOB,
                                          mention_bot=True)
        if fault == "refused":
            await stands.openai.start()
        second = await stands.discord.wait_for_messages(2)
        assert second[1]["content"] in {"echo: Bob: still alive?", POLITE[kind]}


async def test_cooldown_answers_with_a_short_lived_notice(stands: Stands) -> None:
    settings = bot_settings(stands, cooldown_rate=2, cooldown_seconds=2)
    async with running_bot(stands, settings):
        for number in range(3):
            await stands.discord.send_message(GENERAL_CHANNEL, f"q{number}", mention_bot=True)
            await stands.discord.wait_for_messages(number + 1)
        await stands.discord.send_message(GENERAL_CHANNEL, "bob's turn", author=BOB,
                                          mention_bot=True)
        replies = await stands.discord.wait_for_messages(4)
        notice = replies[2]
        assert notice["content"].startswith("You're sending messages quickly")
        assert replies[3]["content"] == "echo: Bob: bob's turn"
        await stands.discord.wait_for(
            lambda r: r.method == "DELETE" and r.path.endswith(f"/messages/{notice['id']}"),
            timeout=4,
        )
    assert len(stands.openai.requests) == 3


async def test_empty_mention_and_attachments_get_a_hint(stands: Stands, bot: ChatBot) -> None:
    await stands.discord.send_message(GENERAL_CHANNEL, "", mention_bot=True)
    await stands.discord.send_message(
        CHAT_CHANNEL, "",
        attachments=[{"id": "1", "filename": "a.png", "size": 10, "url": "http://x/a.png",
                      "proxy_url": "http://x/a.png"}],
    )
    await stands.discord.send_message(CHAT_CHANNEL, "\u200b\u200b", mention_bot=True)
    replies = await stands.discord.wait_for_messages(3)
    assert sorted(r["content"] for r in replies) == sorted(
        [EMPTY_MENTION, ATTACHMENTS_ONLY, EMPTY_MENTION]
    )
    assert stands.openai.requests == []
    assert stands.greenflash.accepted_for("/messages") == []


async def test_a_4000_character_message_is_answered(stands: Stands, bot: ChatBot) -> None:
    long_text = "why " * 1000
    await stands.discord.send_message(GENERAL_CHANNEL, long_text, mention_bot=True)
    await stands.discord.wait_for_messages(1)
    asked = stands.openai.requests[-1]["messages"][-1]["content"]
    assert asked == "Alice: " + long_text.strip()


async def test_deleted_question_is_not_answered(stands: Stands, bot: ChatBot) -> None:
    stands.openai.latency = 0.5
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "never mind", mention_bot=True)
    await stands.openai.wait_for_requests(1)
    await stands.discord.delete_message(GENERAL_CHANNEL, int(sent["id"]))
    stands.openai.latency = 0
    sentinel = await stands.discord.send_message(GENERAL_CHANNEL, "next", mention_bot=True)
    (only,) = await stands.discord.wait_for_messages(1)
    await asyncio.sleep(0.6)
    assert [m["message_reference"]["message_id"] for m in stands.discord.sent_messages()] == [
        sentinel["id"]
    ]
    assert only["content"] == "echo: Alice: next"


async def test_edited_question_is_answered_as_asked(stands: Stands, bot: ChatBot) -> None:
    stands.openai.latency = 0.3
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "first wording", mention_bot=True)
    await stands.openai.wait_for_requests(1)
    await stands.discord.edit_message(GENERAL_CHANNEL, int(sent["id"]), "second wording")
    (reply,) = await stands.discord.wait_for_messages(1)
    assert reply["content"] == "echo: Alice: first wording"


async def test_missing_send_permission_is_logged_and_others_still_served(
    stands: Stands, bot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    stands.discord.deny_send(GENERAL_CHANNEL)
    await stands.discord.send_message(GENERAL_CHANNEL, "hello", mention_bot=True)
    sent = await stands.discord.send_message(CHAT_CHANNEL, "hello there")
    (reply,) = await stands.discord.wait_for_messages(1, channel_id=CHAT_CHANNEL)
    assert reply["message_reference"]["message_id"] == sent["id"]
    await stands.discord.wait_for(
        lambda r: r.path == f"/channels/{GENERAL_CHANNEL}/messages" and r.status == 403
    )
    for _ in range(100):  # the bot logs once the 403 reaches it
        if "could not post reply in channel" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert "could not post reply in channel" in caplog.text
    assert stands.discord.sent_messages(GENERAL_CHANNEL) == []
