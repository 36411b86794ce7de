"""A thread per question where a channel wants one, end to end: the real bot, discord.py,
the Discord stand-in's threads, the model and Greenflash stand-ins."""

from __future__ import annotations

from typing import Any

import pytest

from bot.client import ChatBot
from bot.conversation.notices import NO_THREAD_PERMISSIONS
from bot.conversation.thread_names import thread_name
from cogs.assistant import NOT_ADMIN
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import SYSTEM_PROMPT, barrier, until
from tests.standins.discord_world import (
    ALICE_ID,
    BOB,
    BOT_ID,
    CREATE_PUBLIC_THREADS,
    GENERAL_CHANNEL,
    GUILD_A,
    THREAD,
)

EPHEMERAL = 1 << 6
QUESTION = "**How** do I deploy the bot to <#851848618599120896> with __Docker__?"
READ = "**How** do I deploy the bot to #ai-chat with __Docker__?"
"""What the model reads of :data:`QUESTION`: the channel mention named."""
ASKED = "How do I deploy the bot to #ai-chat with Docker?"
"""The thread's name: that, without its markdown."""


def threads_opened(stands: Stands) -> list[Any]:
    return [r for r in stands.discord.requests
            if r.method == "POST" and r.path.endswith("/threads")]


def in_channel(stands: Stands, channel_id: int) -> list[dict[str, Any]]:
    return stands.discord.sent_messages(channel_id)


async def ask_in_thread_channel(
    stands: Stands, bot: ChatBot, text: str = QUESTION
) -> tuple[dict, dict]:
    """Alice asks in #general with a mention; returns her question and the bot's first
    answer, posted in the thread that carries the question's id, once the reply is done
    (and so in the bot's memory)."""
    question = await stands.discord.send_message(GENERAL_CHANNEL, text, mention_bot=True)
    thread_id = int(question["id"])
    (answer,) = await stands.discord.wait_for_messages(1, channel_id=thread_id)
    await until(lambda: bot.foreground.busy == 0, "the reply to end")
    return question, answer


@pytest.fixture
def threads_on(stands: Stands) -> Any:
    return bot_settings(stands, thread_channel_ids=frozenset({GENERAL_CHANNEL}))


async def test_a_question_opens_one_thread_named_from_it_and_is_answered_inside(
    stands: Stands, threads_on: Any
) -> None:
    stands.openai.script("Build the image, then `docker compose up`.")
    async with running_bot(stands, threads_on) as bot:
        question, answer = await ask_in_thread_channel(stands, bot)
        await until(lambda: len(stands.greenflash.stored_messages()) >= 2, "both halves logged")
        assert bot.analytics.stats.failed == 0

    (opened,) = threads_opened(stands)
    assert opened.path == f"/channels/{GENERAL_CHANNEL}/messages/{question['id']}/threads"
    assert opened.json["name"] == thread_name(READ) == ASKED
    assert opened.json["auto_archive_duration"] == threads_on.thread_archive_minutes
    thread = stands.discord.world.channels[int(question["id"])]
    assert (thread["owner_id"], thread["parent_id"]) == (str(BOT_ID), str(GENERAL_CHANNEL))

    assert answer["content"] == "Build the image, then `docker compose up`."
    assert "message_reference" not in answer, "Discord refuses replies across channels"
    assert in_channel(stands, GENERAL_CHANNEL) == [], "nothing answered in the channel"
    (request,) = stands.openai.requests
    assert request["messages"][1:] == [{"role": "user", "content": f"Alice: {READ}"}]

    logged = stands.greenflash.stored_messages(question["id"])
    assert [item["role"] for item in logged] == ["user", "assistant"]
    assert logged[0]["externalMessageId"] == question["id"], "the question comes first"
    assert logged[1]["externalMessageId"] == answer["id"]
    for item in logged:
        assert item["externalConversationId"] == question["id"]
        assert item["conversationProperties"]["parent_channel_id"] == str(GENERAL_CHANNEL)
        assert item["conversationProperties"]["parent_channel_name"] == "general"
        assert item["conversationProperties"]["channel_name"] == ASKED
    assert stands.greenflash.stored_messages(str(GENERAL_CHANNEL)) == []


async def test_follow_ups_are_answered_in_the_thread_without_a_mention_after_a_restart_too(
    stands: Stands, threads_on: Any
) -> None:
    stands.openai.script("First answer.", "Second answer.", "Third answer.")
    async with running_bot(stands, threads_on) as bot:
        question, _ = await ask_in_thread_channel(stands, bot, "what is a thread?")
        thread_id = int(question["id"])
        follow_up = await stands.discord.send_message(thread_id, "and who can see it?")
        (_, second) = await stands.discord.wait_for_messages(2, channel_id=thread_id)
        await until(lambda: bot.foreground.busy == 0, "the reply to end")
    assert second["message_reference"]["message_id"] == follow_up["id"]
    assert stands.openai.requests[1]["messages"][1:] == [
        {"role": "user", "content": "Alice: what is a thread?"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "Alice: and who can see it?"},
    ]
    assert len(threads_opened(stands)) == 1, "a follow-up opens no thread of its own"

    # A new process knows nothing of the thread but its owner: the bot.
    async with running_bot(stands, threads_on):
        again = await stands.discord.send_message(thread_id, "one more thing", author=BOB)
        (*_, third) = await stands.discord.wait_for_messages(3, channel_id=thread_id)
    assert third["message_reference"]["message_id"] == again["id"]
    assert third["content"] == "Third answer."
    read = stands.openai.requests[2]["messages"][1:]
    assert read[-1] == {"role": "user", "content": "Bob: one more thing"}
    assert {"role": "assistant", "content": "Second answer."} in read
    assert {"role": "user", "content": "Alice: what is a thread?"} in read, "the question too"
    assert len(threads_opened(stands)) == 1


async def test_threads_on_by_an_admin_and_the_thread_follows_the_channels_persona(
    stands: Stands
) -> None:
    persona = "You are Ada, the deploy helper."
    async with running_bot(stands) as bot:
        said = await command(stands, "threads", {"mode": "on"})
        assert said["content"] == (
            f"<@{ALICE_ID}> turned threads on here: each question gets a thread of its own."
        )
        await command(stands, "persona set", {"text": persona})
        question, _ = await ask_in_thread_channel(stands, bot, "ship it?")
        stored = await bot.storage.settings_for(GUILD_A, GENERAL_CHANNEL)
    assert stored.threads is True
    system = stands.openai.requests[0]["messages"][0]["content"]
    assert system.startswith(SYSTEM_PROMPT) and system.endswith(persona)
    logged = stands.greenflash.stored_messages(question["id"])
    assert logged and logged[0]["conversationProperties"]["persona"] != "default"


async def test_threads_is_refused_to_a_member_who_is_no_admin(stands: Stands) -> None:
    async with running_bot(stands) as bot:
        refused = await command(stands, "threads", {"mode": "on"}, user=BOB)
        stored = await bot.storage.settings_for(GUILD_A, GENERAL_CHANNEL)
    assert refused["flags"] & EPHEMERAL
    assert refused["content"] == NOT_ADMIN.format(role="")
    assert stored.threads is None


@pytest.mark.parametrize("cache_knows", [True, False], ids=["computed", "403-on-create"])
async def test_without_create_public_threads_it_answers_in_the_channel_saying_why(
    stands: Stands, threads_on: Any, cache_knows: bool
) -> None:
    stands.openai.script("Here, then.")
    async with running_bot(stands, threads_on) as bot:
        await stands.discord.deny_bot(GENERAL_CHANNEL, CREATE_PUBLIC_THREADS,
                                      announce=cache_knows)
        if cache_knows:
            await until(lambda: not bot_may_open_threads(bot), "the overwrite in the cache")
        question = await stands.discord.send_message(GENERAL_CHANNEL, "help?", mention_bot=True)
        line, answer = await stands.discord.wait_for_messages(2, channel_id=GENERAL_CHANNEL)
    assert line["content"] == NO_THREAD_PERMISSIONS
    assert "message_reference" not in line
    assert answer["content"] == "Here, then."
    assert answer["message_reference"]["message_id"] == question["id"]
    assert [r.status for r in threads_opened(stands)] == ([] if cache_knows else [403])
    assert int(question["id"]) not in stands.discord.world.channels


def bot_may_open_threads(bot: ChatBot) -> bool:
    """What the bot's cache says of its Create Public Threads in #general."""
    channel = bot.get_channel(GENERAL_CHANNEL)
    guild = bot.get_guild(GUILD_A)
    assert channel is not None and guild is not None
    return channel.permissions_for(guild.me).create_public_threads  # type: ignore[union-attr]


async def test_a_thread_the_bot_did_not_open_keeps_todays_rules(
    stands: Stands, threads_on: Any
) -> None:
    async with running_bot(stands, threads_on) as bot:
        unaddressed = await stands.discord.send_message(THREAD, "just chatting")
        mentioned = await stands.discord.send_message(THREAD, "a question", mention_bot=True)
        await barrier(stands.discord, bot, THREAD)
    answers = in_channel(stands, THREAD)
    answered = [a["message_reference"]["message_id"] for a in answers]
    # The mention and the barrier's question, each once, in whichever order they finished.
    assert len(answered) == 2 and mentioned["id"] in answered
    assert unaddressed["id"] not in answered
    assert threads_opened(stands) == [], "no thread opened inside a thread"


async def test_an_archived_thread_of_the_bot_is_answered_and_unarchived(
    stands: Stands, threads_on: Any
) -> None:
    stands.openai.script("Opened.", "Still here.")
    async with running_bot(stands, threads_on) as bot:
        question, _ = await ask_in_thread_channel(stands, bot, "archive me")
        thread_id = int(question["id"])
        await stands.discord.archive_thread(thread_id)
        await until(lambda: bot.get_channel(thread_id) is None, "discord.py dropping it")
        later = await stands.discord.send_message(thread_id, "back again")
        (_, answer) = await stands.discord.wait_for_messages(2, channel_id=thread_id)
    assert answer["message_reference"]["message_id"] == later["id"]
    assert answer["content"] == "Still here."
    assert not stands.discord.world.archived(thread_id)


async def command(stands: Stands, name: str, options: dict | None = None, **where: Any) -> dict:
    interaction = await stands.discord.slash_command(name, options, **where)
    return (await interaction.wait_for_callback())["data"]
