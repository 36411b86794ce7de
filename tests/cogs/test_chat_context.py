"""The model sees the channel's conversation, rebuilt from Discord after a restart."""

from __future__ import annotations

from typing import Any

from bot.conversation.exchange import LENGTH_NOTE
from bot.conversation.failures import POLITE, FailureKind
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


def model_inputs(stands: Stands, index: int) -> list[str]:
    """What the model read in its ``index``-th request, system prompt left out."""
    return [m["content"] for m in stands.openai.requests[index]["messages"][1:]]


async def test_a_reply_in_flight_during_reset_stays_out_of_the_fresh_context(
    stands: Stands,
) -> None:
    async with running_bot(stands):
        await have_a_conversation(stands)
        stands.openai.latency = 1.0
        stands.openai.script("An answer from before the reset.")
        await stands.discord.send_message(CHAT_CHANNEL, "slow question")
        await stands.openai.wait_for_requests(4)
        interaction = await stands.discord.slash_command("reset", channel_id=CHAT_CHANNEL)
        await interaction.wait_for_callback()
        *_, reset, late = await stands.discord.wait_for_messages(5, channel_id=CHAT_CHANNEL)
        # The answer arrived after the reset: it was in flight when the reset happened.
        assert reset["content"].startswith("🧹 Conversation reset.")
        assert late["content"] == "An answer from before the reset."
        stands.openai.latency = 0.0
        await ask(stands, "first after the reset", count=6)
        live = model_inputs(stands, -1)
    assert live == ["Alice: first after the reset"]
    async with running_bot(stands):
        await ask(stands, "after a restart", count=7)
    assert model_inputs(stands, -1) == [
        "Alice: first after the reset", "echo: Alice: first after the reset",
        "Alice: after a restart",
    ]


async def test_two_prompts_at_once_see_each_other_in_discord_order(stands: Stands) -> None:
    async with running_bot(stands):
        stands.openai.latency = 0.5
        stands.openai.reply_with(lambda body: "answer to " + body["messages"][-1]["content"])
        await stands.discord.send_message(CHAT_CHANNEL, "question A")
        await stands.openai.wait_for_requests(1)
        await stands.discord.send_message(CHAT_CHANNEL, "question B", author=BOB)
        await stands.discord.wait_for_messages(2, channel_id=CHAT_CHANNEL)
        await stands.greenflash.wait_for_accepted("/messages", 4)
        stands.openai.latency = 0.0
        await ask(stands, "what was asked?", count=3)
    # B was asked while A was being answered: B's request already holds A's question.
    assert model_inputs(stands, 1) == ["Alice: question A", "Bob: question B"]
    # Afterwards the context reads as the channel does: both questions, then both answers.
    assert model_inputs(stands, 2) == [
        "Alice: question A", "Bob: question B",
        "answer to Alice: question A", "answer to Bob: question B",
        "Alice: what was asked?",
    ]


def history_reads(stands: Stands) -> int:
    return sum(
        1 for r in stands.discord.requests
        if r.method == "GET" and r.path == f"/channels/{CHAT_CHANNEL}/messages"
    )


async def test_two_first_prompts_after_a_restart_rebuild_the_history_once(
    stands: Stands,
) -> None:
    async with running_bot(stands):
        await have_a_conversation(stands)
    assert history_reads(stands) == 1
    async with running_bot(stands):
        await stands.discord.send_message(CHAT_CHANNEL, "first")
        await stands.discord.send_message(CHAT_CHANNEL, "second", author=BOB)
        await stands.discord.wait_for_messages(5, channel_id=CHAT_CHANNEL)
    assert history_reads(stands) == 2
    rebuilt = [*(m["content"] for m in HISTORY[1:]), "Alice and Bob."]
    for index in (3, 4):
        assert model_inputs(stands, index)[: len(rebuilt)] == rebuilt


async def test_rebuilt_context_matches_live_memory_after_failures_and_cut_answers(
    stands: Stands,
) -> None:
    """A failed prompt and its polite sentence are not context, live or rebuilt; an answer
    cut by the token limit is context as the user saw it, note included."""
    async with running_bot(stands):
        stands.openai.script("One.")
        await ask(stands, "say one", count=1)
        stands.openai.fail_next(500)
        await stands.discord.send_message(CHAT_CHANNEL, "this one fails")
        (*_, failure) = await stands.discord.wait_for_messages(2, channel_id=CHAT_CHANNEL)
        assert failure["content"] == POLITE[FailureKind.SERVER_ERROR]
        stands.openai.script_reply("A long answer that", finish_reason="length")
        await ask(stands, "say a lot", count=3)
        await ask(stands, "what came before?", count=4)
        live = model_inputs(stands, -1)
    async with running_bot(stands):
        await ask(stands, "what came before?", count=5)
        rebuilt = model_inputs(stands, -1)
    cut = f"A long answer that\n\n{LENGTH_NOTE}"
    assert live == ["Alice: say one", "One.", "Alice: say a lot", cut, "Alice: what came before?"]
    assert rebuilt[: len(live) - 1] == live[:-1]
    assert rebuilt[len(live) - 1 :] == [
        "Alice: what came before?", "echo: Alice: what came before?", "Alice: what came before?",
    ]
