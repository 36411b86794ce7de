"""The model sees the channel's conversation, rebuilt from Discord after a restart."""

from __future__ import annotations

from typing import Any

from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import SYSTEM_PROMPT
from tests.standins.discord_server import BOB, CHAT_CHANNEL, GENERAL_CHANNEL


async def ask(stands: Stands, content: str, *, count: int, **kwargs: Any) -> None:
    """Send a message to the bot and wait until its ``count``-th exchange is complete: the
    reply is logged to Greenflash only once it is in the bot's memory too."""
    logged = len(stands.greenflash.accepted_for("/messages"))
    await stands.discord.send_message(CHAT_CHANNEL, content, **kwargs)
    await stands.discord.wait_for_messages(count, channel_id=CHAT_CHANNEL)
    await stands.greenflash.wait_for_accepted("/messages", logged + 2)


def seen_by_model(stands: Stands) -> list[dict[str, str]]:
    return stands.openai.requests[-1]["messages"]


HISTORY = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {"role": "user", "content": "Alice: my name is Alice"},
    {"role": "assistant", "content": "Nice to meet you, Alice."},
    {"role": "user", "content": "Bob: I'm Bob"},
    {"role": "assistant", "content": "Hi Bob."},
    {"role": "user", "content": "Alice: who is here?"},
]


async def have_a_conversation(stands: Stands) -> None:
    stands.openai.script("Nice to meet you, Alice.", "Hi Bob.", "Alice and Bob.")
    await ask(stands, "my name is Alice", count=1)
    await stands.discord.send_message(GENERAL_CHANNEL, "unrelated chatter elsewhere")
    await ask(stands, "I'm Bob", count=2, author=BOB)
    await ask(stands, "who is here?", count=3)


async def test_context_holds_who_said_what(stands: Stands) -> None:
    async with running_bot(stands):
        await have_a_conversation(stands)
    assert seen_by_model(stands) == HISTORY


async def test_context_survives_a_restart(stands: Stands) -> None:
    async with running_bot(stands):
        await have_a_conversation(stands)
    async with running_bot(stands):
        stands.openai.script("Still Alice and Bob.")
        await ask(stands, "still there?", count=4)
    assert seen_by_model(stands) == [
        *HISTORY,
        {"role": "assistant", "content": "Alice and Bob."},
        {"role": "user", "content": "Alice: still there?"},
    ]


async def test_reset_starts_fresh_and_survives_a_restart(stands: Stands) -> None:
    async with running_bot(stands):
        await have_a_conversation(stands)
        interaction = await stands.discord.slash_command("reset", channel_id=CHAT_CHANNEL)
        callback = await interaction.wait_for_callback()
        assert callback["data"]["content"].startswith("🧹 Conversation reset.")
        await ask(stands, "after the reset", count=5)
        assert seen_by_model(stands)[1:] == [{"role": "user", "content": "Alice: after the reset"}]
    async with running_bot(stands):
        await ask(stands, "after the restart", count=6)
    assert [m["content"] for m in seen_by_model(stands)[1:]] == [
        "Alice: after the reset",
        "echo: Alice: after the reset",
        "Alice: after the restart",
    ]


async def test_context_is_bounded_by_count(stands: Stands) -> None:
    settings = bot_settings(stands, context_max_messages=4)
    async with running_bot(stands, settings):
        for number in range(5):
            await ask(stands, f"message {number}", count=number + 1)
    messages = seen_by_model(stands)
    assert len(messages) == 1 + 4 + 1
    assert messages[-1]["content"] == "Alice: message 4"
    assert messages[1]["content"] == "Alice: message 2"
