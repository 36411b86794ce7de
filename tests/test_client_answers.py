"""When the bot answers and when it stays silent, through the real discord.py client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.client import ChatBot
from bot.replies.typing_indicator import TYPING_DELAY
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import barrier, pings_nobody
from tests.standins.discord_server import (
    ALICE,
    BETA_CHANNEL,
    BOT_ID,
    CHAT_CHANNEL,
    CHAT_THREAD,
    DM_ALICE,
    GENERAL_CHANNEL,
    GUILD_A,
    OTHER_BOT,
    THREAD,
    webhook_author,
)

Inject = Callable[[Stands], Awaitable[Any]]


async def bot_message_ids(stands: Stands) -> list[int]:
    return [int(message["id"]) for message in stands.discord.sent_messages()]


async def answered(stands: Stands, channel_id: int, user_message: dict[str, Any]) -> dict[str, Any]:
    """Wait for the bot's reply in ``channel_id`` and check it replies to ``user_message``."""
    (reply,) = await stands.discord.wait_for_messages(1, channel_id=channel_id)
    assert reply["message_reference"]["message_id"] == user_message["id"]
    return reply


async def test_mention_in_a_guild_channel_is_answered(stands: Stands, bot: ChatBot) -> None:
    stands.openai.script("Hello Alice!")
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "hi there", mention_bot=True)
    reply = await answered(stands, GENERAL_CHANNEL, sent)
    assert reply["content"] == "Hello Alice!"
    (post,) = [r for r in stands.discord.requests
               if r.method == "POST" and r.path == f"/channels/{GENERAL_CHANNEL}/messages"]
    assert pings_nobody(post.json["allowed_mentions"])
    assert post.json["message_reference"]["fail_if_not_exists"] is False
    assert stands.openai.requests[-1]["messages"][-1] == {
        "role": "user", "content": "Alice: hi there"
    }


def typing_requests(stands: Stands, channel_id: int) -> list[int]:
    """Indexes in the request log of the typing indicators sent to the channel."""
    return [index for index, r in enumerate(stands.discord.requests)
            if r.method == "POST" and r.path == f"/channels/{channel_id}/typing"]


async def test_a_slow_model_shows_typing_until_the_reply(stands: Stands, bot: ChatBot) -> None:
    stands.openai.latency = 2 * TYPING_DELAY
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "think hard", mention_bot=True)
    await answered(stands, GENERAL_CHANNEL, sent)
    (typing,) = typing_requests(stands, GENERAL_CHANNEL)
    (post,) = [index for index, r in enumerate(stands.discord.requests)
               if r.method == "POST" and r.path == f"/channels/{GENERAL_CHANNEL}/messages"]
    assert typing < post


async def test_an_instant_answer_spends_no_request_on_typing(
    stands: Stands, bot: ChatBot
) -> None:
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "quick", mention_bot=True)
    await answered(stands, GENERAL_CHANNEL, sent)
    answered_at = len(stands.discord.requests)
    # A slow question after it: its indicator, due a delay after it arrived, would come
    # after the quick one's, so once it is there the quick one had its chance.
    stands.openai.latency = 2 * TYPING_DELAY
    await stands.discord.send_message(GENERAL_CHANNEL, "slow", author=ALICE, mention_bot=True)
    await stands.discord.wait_for(lambda r: r.path == f"/channels/{GENERAL_CHANNEL}/typing")
    (typing,) = typing_requests(stands, GENERAL_CHANNEL)
    assert typing >= answered_at, "only the slow question's"


async def test_reply_to_the_bot_is_answered(stands: Stands, bot: ChatBot) -> None:
    first = await stands.discord.send_message(GENERAL_CHANNEL, "question", mention_bot=True)
    bot_reply = await answered(stands, GENERAL_CHANNEL, first)
    # Without the reply ping the bot is not among the mentions: only the reply addresses it.
    follow_up = await stands.discord.send_message(
        GENERAL_CHANNEL, "and a follow-up", reply_to=int(bot_reply["id"]), ping_reply=False
    )
    assert follow_up["mentions"] == []
    replies = await stands.discord.wait_for_messages(2, channel_id=GENERAL_CHANNEL)
    assert replies[1]["message_reference"]["message_id"] == follow_up["id"]
    assert stands.openai.requests[-1]["messages"][-1]["content"] == "Alice: and a follow-up"


@pytest.mark.parametrize(
    ("channel_id", "mention"),
    [(DM_ALICE, False), (CHAT_CHANNEL, False), (CHAT_THREAD, False), (THREAD, True)],
    ids=["dm", "chat-channel", "thread-under-chat-channel", "mention-in-thread"],
)
async def test_addressed_messages_are_answered(
    stands: Stands, bot: ChatBot, channel_id: int, mention: bool
) -> None:
    sent = await stands.discord.send_message(channel_id, "tell me a joke", mention_bot=mention)
    await answered(stands, channel_id, sent)


SILENT: dict[str, Inject] = {
    "plain-message": lambda s: s.discord.send_message(GENERAL_CHANNEL, "just chatting"),
    "plain-in-thread": lambda s: s.discord.send_message(THREAD, "just chatting"),
    "other-bot-mention": lambda s: s.discord.send_message(
        GENERAL_CHANNEL, "hey bot", author=OTHER_BOT, mention_bot=True),
    "other-bot-in-chat-channel": lambda s: s.discord.send_message(
        CHAT_CHANNEL, "beep", author=OTHER_BOT),
    "webhook": lambda s: s.discord.send_message(
        CHAT_CHANNEL, "webhook says", webhook_id=555, mention_bot=True),
    "webhook-without-bot-flag": lambda s: s.discord.send_message(  # only webhook_id stops it
        CHAT_CHANNEL, "webhook says", webhook_id=556, author=webhook_author(556, bot=False)),
    "system-message": lambda s: s.discord.send_message(  # text, so only its type stops it
        CHAT_CHANNEL, "Carol joined, say hi", message_type=7),
    "everyone-ping": lambda s: s.discord.send_message(
        GENERAL_CHANNEL, "@everyone look", mention_everyone=True),
}


@pytest.mark.parametrize("inject", SILENT.values(), ids=SILENT.keys())
async def test_messages_not_addressed_to_the_bot_stay_silent(
    stands: Stands, bot: ChatBot, inject: Inject
) -> None:
    await inject(stands)
    sentinel = await barrier(stands.discord, bot, text="sentinel")
    (only,) = stands.discord.sent_messages()
    assert only["message_reference"]["message_id"] == sentinel["id"]
    assert len(stands.openai.requests) == 1
    await stands.greenflash.wait_for_accepted("/messages", 2)
    await bot.analytics.close()
    user_logs = [r.json["messages"][0]["content"]
                 for r in stands.greenflash.accepted_for("/messages")
                 if r.json["messages"][0]["role"] == "user"]
    assert user_logs == ["sentinel"]


async def test_the_bot_ignores_its_own_messages(stands: Stands, bot: ChatBot) -> None:
    bot_user = {**ALICE, "id": str(BOT_ID), "username": "bot", "bot": True}
    await stands.discord.send_message(CHAT_CHANNEL, "I said this", author=bot_user)
    sentinel = await barrier(stands.discord, bot, CHAT_CHANNEL)
    (only,) = stands.discord.sent_messages()
    assert only["message_reference"]["message_id"] == sentinel["id"]


async def test_dms_can_be_turned_off_and_guilds_allowlisted(stands: Stands) -> None:
    settings = bot_settings(stands, answer_dms=False, allowed_guild_ids=frozenset({GUILD_A}))
    async with running_bot(stands, settings) as bot:
        await stands.discord.send_message(DM_ALICE, "hello?")
        await stands.discord.send_message(BETA_CHANNEL, "hello?", mention_bot=True)
        sentinel = await barrier(stands.discord, bot)
        (only,) = stands.discord.sent_messages()
        assert only["message_reference"]["message_id"] == sentinel["id"]
    assert len(stands.openai.requests) == 1


async def test_without_message_content_intent_only_mentions_and_dms(stands: Stands) -> None:
    settings = bot_settings(stands, message_content_intent=False)
    async with running_bot(stands, settings):
        await stands.discord.send_message(CHAT_CHANNEL, "chat channel needs content")
        dm = await stands.discord.send_message(DM_ALICE, "a DM")
        mention = await stands.discord.send_message(GENERAL_CHANNEL, "mention", mention_bot=True)
        replies = await stands.discord.wait_for_messages(2)
        assert {r["message_reference"]["message_id"] for r in replies} == {dm["id"],
                                                                          mention["id"]}
    identify = stands.discord.identify_payloads[-1]
    assert not identify["intents"] & (1 << 15)
    assert [r for r in stands.discord.sent_messages(CHAT_CHANNEL)] == []


async def test_typing_stops_once_the_first_words_are_visible(stands: Stands) -> None:
    answer = "word " * 59 + "end."
    # Words at once, then streaming for twice the indicator's delay: it would be due meanwhile.
    stands.openai.chunk_size = 30
    stands.openai.chunk_delay = 2 * TYPING_DELAY / (len(answer) / stands.openai.chunk_size)
    stands.openai.script(answer)
    async with running_bot(stands, bot_settings(stands, stream_replies=True)):
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "long one", mention_bot=True)
        await answered(stands, GENERAL_CHANNEL, sent)
        await stands.greenflash.wait_for_accepted("/messages", 2)  # logged once complete
    assert typing_requests(stands, GENERAL_CHANNEL) == []
    (reply,) = stands.discord.sent_messages(GENERAL_CHANNEL)
    assert reply["content"] == answer
