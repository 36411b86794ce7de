"""The whole bot on each database backend, through the stand-ins: what an admin sets is
what the model gets and what Greenflash logs, budgets stop the model call, and a database
that is down leaves the bot answering as it did before settings existed."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.conversation.notices import BUDGET_REACHED
from tests.bot_harness import Stands, running_bot
from tests.helpers import SYSTEM_PROMPT, answers_to, barrier, until, with_values
from tests.standins.discord_world import (
    ALICE,
    ALICE_ID,
    BOB,
    BOB_ID,
    GENERAL_CHANNEL,
    GUILD_A,
    THREAD,
)
from tests.storage.conftest import MODELS, Backend

EPHEMERAL = 1 << 6
PERSONA = "You are Ada, Alpha Guild's support assistant. Answer from the product's side."


async def command(stands: Stands, name: str, options: dict | None = None, **where: Any) -> dict:
    interaction = await stands.discord.slash_command(name, options, **where)
    return (await interaction.wait_for_callback())["data"]


async def ask(stands: Stands, channel_id: int, text: str, author: dict = BOB) -> dict[str, Any]:
    """``author`` mentions the bot; returns the bot's answer once it is posted."""
    sent = await stands.discord.send_message(channel_id, text, author=author, mention_bot=True)
    (reply, *_) = await until(lambda: answers_to(stands.discord, sent["id"]),
                              f"the answer to {text!r}", changed=stands.discord.next_change)
    return {"question": sent, "reply": reply}


def logged(stands: Stands, message_id: str) -> dict[str, Any]:
    return next(m for m in stands.greenflash.stored_messages()
                if m["externalMessageId"] == message_id)


def events(stands: Stands, event_type: str) -> list[dict[str, Any]]:
    return [record.json for record in stands.greenflash.accepted_for("/events")
            if record.json["eventType"] == event_type]


async def test_an_admins_persona_is_what_the_model_gets_and_greenflash_logs_in_the_channel_and_its_thread(  # noqa: E501
    stands: Stands, backend: Backend
) -> None:
    async with running_bot(stands, storage=backend.config) as bot:
        before = await ask(stands, GENERAL_CHANNEL, "who are you?")
        set_by = await stands.discord.slash_command("persona set", {"text": PERSONA})
        said = (await set_by.wait_for_callback())["data"]
        assert said["content"].startswith(f"<@{ALICE_ID}> set this channel's persona")
        in_channel = await ask(stands, GENERAL_CHANNEL, "who are you now?")
        in_thread = await ask(stands, THREAD, "and in here?")
        await until(lambda: len(stands.greenflash.stored_messages()) >= 6, "six logged messages")
        await until(lambda: events(stands, "persona_changed"), "the persona_changed event")
        sent_prompts = [request["messages"][0] for request in stands.openai.requests]
        assert bot.analytics.stats.failed == 0

    assert sent_prompts[0] == {"role": "system", "content": SYSTEM_PROMPT}
    for system in sent_prompts[1:]:
        assert system["role"] == "system"
        # The operator's framing first and whole, the persona after it.
        assert system["content"].startswith(SYSTEM_PROMPT)
        assert system["content"].endswith(PERSONA)
    assert sent_prompts[1] == sent_prompts[2], "the thread follows its parent channel"

    for exchange, system in zip((before, in_channel, in_thread), sent_prompts, strict=True):
        for message_id in (exchange["question"]["id"], exchange["reply"]["id"]):
            item = logged(stands, message_id)
            components = item["systemPrompt"]["components"]
            assert "\n\n".join(part["content"] for part in components) == system["content"]
            persona = item["conversationProperties"]["persona"]
            assert (persona == "default") is (exchange is before)
    (event,) = events(stands, "persona_changed")
    assert event["influence"] == "neutral"
    assert event["insertId"] == f"persona_changed:{set_by.id}"
    assert event["externalConversationId"] == str(GENERAL_CHANNEL)
    assert event["value"] == logged(stands, in_channel["question"]["id"])[
        "conversationProperties"]["persona"]
    assert event["properties"]["previous"] == "default"


async def test_help_shows_the_model_and_persona_in_effect_where_it_is_asked(
    stands: Stands, backend: Backend
) -> None:
    async with running_bot(stands, storage=backend.config):
        plain = (await command(stands, "help", channel_id=THREAD))["embeds"][0]
        await command(stands, "persona set", {"text": PERSONA})
        await command(stands, "model set", {"name": MODELS[1]})
        shaped = (await command(stands, "help", channel_id=THREAD))["embeds"][0]
    fields = {field["name"]: field["value"] for field in plain["fields"]}
    assert fields["Model"] == f"`{MODELS[0]}`"
    assert "default" in fields["Persona"]
    fields = {field["name"]: field["value"] for field in shaped["fields"]}
    assert fields["Model"] == f"`{MODELS[1]}`"
    assert "default" not in fields["Persona"]


async def test_a_chosen_model_answers_and_greenflash_compares_it_and_others_are_refused(
    stands: Stands, backend: Backend
) -> None:
    async with running_bot(stands, storage=backend.config):
        typed = await stands.discord.autocomplete("model set", {"name": "4O"}, "name")
        offered = (await typed.wait_for_callback())
        refused = await command(stands, "model set", {"name": "gpt-9-ultra"})
        by_bob = await command(stands, "model set", {"name": MODELS[1]}, user=BOB)
        chosen = await stands.discord.slash_command("model set", {"name": MODELS[1]})
        await chosen.wait_for_callback()
        exchange = await ask(stands, THREAD, "which model are you?")
        await until(lambda: events(stands, "model_changed"), "the model_changed event")
        await until(lambda: len(stands.greenflash.stored_messages()) >= 2, "two logged messages")

    assert offered["type"] == 8
    assert [choice["value"] for choice in offered["data"]["choices"]] == ["gpt-4o-mini", "gpt-4o"]
    for refusal in (refused, by_bob):
        assert refusal["flags"] & EPHEMERAL
    assert "gpt-9-ultra" in refused["content"]
    assert "Manage Server" in by_bob["content"]
    assert [request["model"] for request in stands.openai.requests] == [MODELS[1]]
    for message_id in (exchange["question"]["id"], exchange["reply"]["id"]):
        assert logged(stands, message_id)["model"].startswith(MODELS[1])
    (event,) = events(stands, "model_changed")
    assert (event["value"], event["influence"]) == (MODELS[1], "neutral")
    assert event["insertId"] == f"model_changed:{chosen.id}"


async def test_past_the_daily_budget_a_person_gets_the_notice_and_no_model_call(
    stands: Stands, backend: Backend
) -> None:
    config = with_values(backend.config, daily_message_budget=1)
    async with running_bot(stands, storage=config) as bot:
        await ask(stands, GENERAL_CHANNEL, "first question")
        # The reply's charge is counted once the reply is done, after it is posted.
        await until(lambda: bot.foreground.busy == 0, "the first reply to end")
        await bot.storage.settled()
        over = await ask(stands, GENERAL_CHANNEL, "second question")
        calls = len(stands.openai.requests)
        # Alice owns the guild (an admin): exempt, and her answer is the later signal.
        admin = [await ask(stands, GENERAL_CHANNEL, f"admin {n}", author=ALICE) for n in (1, 2)]
        await until(lambda: events(stands, "daily_budget_reached"), "the budget event")

    reset = int(bot.storage.reset_time().timestamp())
    assert over["reply"]["content"] == BUDGET_REACHED.format(resets=reset)
    assert f"<t:{reset}:R>" in over["reply"]["content"]
    assert calls == 1, "no model call for the question past the budget"
    assert len(stands.openai.requests) == 3
    assert all(not exchange["reply"]["content"].startswith("You've reached") for exchange in admin)
    (event,) = events(stands, "daily_budget_reached")
    assert event["influence"] == "negative"
    assert event["insertId"] == f"daily_budget_reached:{over['question']['id']}"
    assert event["externalUserId"] == str(BOB_ID)
    assert event["properties"]["messages_used"] == 1


async def test_with_the_database_down_the_bot_answers_with_the_defaults_and_warns_once(
    stands: Stands, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    admin = backend.storage()
    await admin.set_persona(GUILD_A, GENERAL_CHANNEL, PERSONA, by=ALICE_ID)
    await admin.set_model(GUILD_A, None, MODELS[1], by=ALICE_ID)
    config = with_values(backend.config, timeout=0.5, daily_message_budget=1)
    caplog.set_level(logging.WARNING, logger="bot.storage")
    async with backend.outage(admin), running_bot(stands, storage=config) as bot:
        for n in range(3):
            await ask(stands, GENERAL_CHANNEL, f"question {n}")
        await barrier(stands.discord, bot)
        changed = await command(stands, "persona clear")
    await admin.close()

    assert [r["messages"][0]["content"] for r in stands.openai.requests] == [SYSTEM_PROMPT] * 4
    assert {r["model"] for r in stands.openai.requests} == {MODELS[0]}
    assert changed["flags"] & EPHEMERAL, "a change that cannot be saved is refused, privately"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                and r.name == "bot.storage" and "database unavailable" in r.getMessage()]
    assert len(warnings) == 1
