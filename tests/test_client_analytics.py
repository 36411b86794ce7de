"""What Greenflash receives for real conversations: one user and one assistant message each."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from bot.analytics.calls import AnalyticsStats
from bot.client import ChatBot
from bot.config.products import ProductConfig
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import DEFAULT_PROMPT_OBJECT, TEST_PRODUCT
from tests.standins.discord_server import (
    ALICE,
    ALICE_ID,
    BETA_CHANNEL,
    BOB,
    BOT_ID,
    CHAT_CHANNEL,
    DM_ALICE,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
    THREAD,
)
from tests.standins.openai_server import SNAPSHOTS


async def logged_pair(stands: Stands, bot: ChatBot) -> tuple[dict[str, Any], dict[str, Any]]:
    await stands.greenflash.wait_for_accepted("/messages", 2)
    await bot.analytics.close()
    calls = [record.json for record in stands.greenflash.accepted_for("/messages")]
    assert len(calls) == 2, calls
    user, assistant = sorted(calls, key=lambda call: call["messages"][0]["role"] != "user")
    return user, assistant


MODEL_LATENCY = 0.2
"""Seconds the OpenAI stand-in takes to answer: the logged latency is at least this."""

CASES = {
    "mention": (GENERAL_CHANNEL, {"mention_bot": True}, "mention"),
    "dm": (DM_ALICE, {}, "dm"),
    "thread-reply": (THREAD, {"mention_bot": True}, "mention"),
    "chat-channel": (CHAT_CHANNEL, {}, "chat_channel"),
}


@pytest.mark.parametrize(("channel_id", "kwargs", "trigger"), CASES.values(), ids=CASES.keys())
async def test_each_conversation_logs_one_user_and_one_assistant_message(
    stands: Stands, bot: ChatBot, channel_id: int, kwargs: dict[str, Any], trigger: str
) -> None:
    stands.openai.script("The answer.")
    stands.openai.latency = MODEL_LATENCY
    sent = await stands.discord.send_message(channel_id, "The question?", **kwargs)
    (reply,) = await stands.discord.wait_for_messages(1, channel_id=channel_id)
    user, assistant = await logged_pair(stands, bot)
    for call in (user, assistant):
        assert call["productId"] == TEST_PRODUCT
        assert call["externalUserId"] == ALICE["id"]
        assert call["externalConversationId"] == str(channel_id)
        assert call["systemPrompt"] == DEFAULT_PROMPT_OBJECT
        if channel_id == DM_ALICE:
            assert "externalOrganizationId" not in call
        else:
            assert call["externalOrganizationId"] == str(GUILD_A)
    (user_item,) = user["messages"]
    (assistant_item,) = assistant["messages"]
    assert user_item["role"] == "user"
    assert user_item["content"] == "The question?"
    assert user_item["externalMessageId"] == sent["id"]
    assert user_item["properties"]["trigger"] == trigger
    assert assistant_item["role"] == "assistant"
    assert assistant_item["content"] == "The answer."
    assert assistant_item["externalMessageId"] == reply["id"]
    assert assistant_item["parentExternalMessageId"] == sent["id"]
    # The snapshot that answered, as OpenAI names it in the response, not the alias asked for.
    assert assistant["model"] == SNAPSHOTS["gpt-4o-mini"]
    assert assistant_item["properties"]["cut_off"] is False
    assert assistant_item["properties"]["finish_reason"] == "stop"
    assert user_item["createdAt"] < assistant_item["createdAt"]
    assert assistant_item["properties"]["latency_ms"] >= MODEL_LATENCY * 1000
    assert assistant_item["properties"]["completion_tokens"] > 0


async def test_ask_logs_prompt_with_interaction_id(stands: Stands, bot: ChatBot) -> None:
    interaction = await stands.discord.slash_command("ask", {"prompt": "Slash question"})
    await interaction.wait_for_followup(1)
    (followup,) = stands.discord.sent_messages()
    user, assistant = await logged_pair(stands, bot)
    assert user["messages"][0]["externalMessageId"] == str(interaction.id)
    assert user["messages"][0]["content"] == "Slash question"
    assert user["messages"][0]["properties"]["trigger"] == "slash_command"
    assert assistant["messages"][0]["externalMessageId"] == followup["id"]
    assert assistant["messages"][0]["parentExternalMessageId"] == str(interaction.id)
    assert user["messages"][0]["createdAt"] < assistant["messages"][0]["createdAt"]


async def test_unanswered_messages_send_nothing(stands: Stands, bot: ChatBot) -> None:
    await stands.discord.send_message(GENERAL_CHANNEL, "chatter")
    await stands.discord.send_message(THREAD, "more chatter")
    sentinel = await stands.discord.send_message(CHAT_CHANNEL, "sentinel")
    await stands.discord.wait_for_messages(1)
    await stands.greenflash.wait_for_accepted("/messages", 2)
    await bot.analytics.close()
    for record in stands.greenflash.accepted + stands.greenflash.failed:
        assert "chatter" not in str(record.json)
    ids = [r.json["messages"][0]["externalMessageId"]
           for r in stands.greenflash.accepted_for("/messages")]
    assert sentinel["id"] in ids


async def test_users_and_guilds_identified_once(stands: Stands, bot: ChatBot) -> None:
    for number in range(4):
        await stands.discord.send_message(CHAT_CHANNEL, f"message {number}")
        await stands.discord.wait_for_messages(number + 1)
    await stands.greenflash.wait_for_accepted("/messages", 8)
    await bot.analytics.close()
    assert [r.json["externalUserId"] for r in stands.greenflash.accepted_for("/users")] == [
        ALICE["id"]
    ]
    organizations = stands.greenflash.accepted_for("/organizations")
    assert [r.json["externalOrganizationId"] for r in organizations] == [str(GUILD_A)]
    assert organizations[0].json["name"] == "Alpha Guild"
    assert str(BOT_ID) not in {r.json["externalUserId"] for r in
                               stands.greenflash.accepted_for("/users")}


@pytest.mark.parametrize("fault", ["500", "429", "slow", "refused"])
async def test_replies_flow_whatever_greenflash_does(
    stands: Stands, fault: str, recwarn: pytest.WarningsRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    greenflash = stands.greenflash
    caplog.set_level(logging.INFO, logger="bot.analytics.calls")
    if fault == "500":
        greenflash.fail_next(500, times=2, headers={"retry-after-ms": "20"})
    elif fault == "429":
        greenflash.fail_next(429, times=2, headers={"retry-after-ms": "20"})
    elif fault == "slow":
        greenflash.latency = 5.0
    else:
        await greenflash.down()
    async with running_bot(stands, timeout=6.0 if fault == "slow" else 2.0,
                           drain_seconds=7.0 if fault == "slow" else 1.0, outbox=True) as bot:
        questions = []
        for number in range(3):
            questions.append(await stands.discord.send_message(CHAT_CHANNEL, f"q{number}"))
            await stands.discord.wait_for_messages(number + 1, timeout=2)
        replies = stands.discord.sent_messages(CHAT_CHANNEL)
    # Greenflash must not slow replies: each reply was posted before Greenflash heard anything
    # of its question, so no reply waited on a Greenflash call, whatever the fault.
    perf_minus_monotonic = time.perf_counter() - time.monotonic()
    posted = {request.response["id"]: request.received_at - perf_minus_monotonic
              for request in stands.discord.requests
              if request.method == "POST" and request.path.endswith("/messages")}
    for question, answer in zip(questions, replies, strict=True):
        heard = [record.received_at for record in greenflash.accepted + greenflash.failed
                 if question["id"] in str(record.json)]
        assert heard if fault != "refused" else not heard, question["content"]
        assert all(posted[answer["id"]] < at for at in heard), (question["content"], heard)
    assert "Task exception was never retrieved" not in caplog.text
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
    if fault in {"500", "429", "slow"}:
        stored = greenflash.stored_messages(str(CHAT_CHANNEL))
        assert len(stored) == 6
        assert len({item["externalMessageId"] for item in stored}) == 6
    else:
        assert greenflash.accepted == []
        # Held in the outbox while Greenflash is down, and left there at shutdown for the
        # next start (nothing dropped): three questions and three answers, and Alice and her
        # guild identified once each. Without the outbox: tests/test_greenflash_client.py.
        unsent = 3 * 2 + 2
        assert bot.analytics.stats == AnalyticsStats(sent=0, failed=0, dropped=0)
        assert f"{unsent} call(s) wait in the outbox for the next start" in caplog.text


@pytest.mark.parametrize("missing", ["key", "product"])
async def test_without_key_or_product_the_bot_runs_and_says_so_once(
    stands: Stands, missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    options: dict[str, Any] = (
        {"api_key": None} if missing == "key" else {"products": ProductConfig()}
    )
    async with running_bot(stands, **options):
        for number in range(2):
            await stands.discord.send_message(CHAT_CHANNEL, f"q{number}")
            await stands.discord.wait_for_messages(number + 1)
    warnings = [r.getMessage() for r in caplog.records
                if r.getMessage().startswith("Greenflash analytics are off")]
    assert len(warnings) == 1
    assert ("GREENFLASH_API_KEY" if missing == "key" else "products.toml") in warnings[0]
    assert stands.greenflash.accepted == []
    assert stands.greenflash.failed == []


async def test_a_renamed_guild_is_identified_again(stands: Stands, bot: ChatBot) -> None:
    await stands.discord.send_message(CHAT_CHANNEL, "hello")
    await stands.greenflash.wait_for_accepted("/organizations", 1)
    renamed = {**stands.discord.world.guild_create(GUILD_A), "name": "Alpha Guild Reborn"}
    await stands.discord.dispatch("GUILD_UPDATE", renamed)
    organizations = await stands.greenflash.wait_for_accepted("/organizations", 2)
    assert [r.json["name"] for r in organizations] == ["Alpha Guild", "Alpha Guild Reborn"]
    assert {r.json["externalOrganizationId"] for r in organizations} == {str(GUILD_A)}


async def test_two_people_in_one_channel_each_message_item_names_its_person(
    stands: Stands, bot: ChatBot
) -> None:
    questions = []
    for number, person in enumerate((ALICE, BOB, ALICE)):
        questions.append(await stands.discord.send_message(
            CHAT_CHANNEL, f"question {number} from {person['username']}", author=person))
        await stands.discord.wait_for_messages(number + 1)
    await stands.greenflash.wait_for_accepted("/messages", 6)
    await bot.analytics.close()
    stored = stands.greenflash.stored_messages(str(CHAT_CHANNEL))
    assert len({item["conversationId"] for item in stored}) == 1, "the channel is one conversation"
    answers = {item["parentExternalMessageId"]: item for item in stored
               if item["role"] == "assistant"}
    asked = {item["externalMessageId"]: item for item in stored if item["role"] == "user"}
    for question, person in zip(questions, (ALICE, BOB, ALICE), strict=True):
        own, answer = asked[question["id"]], answers[question["id"]]
        assert (own["properties"]["discord_user_id"],
                own["properties"]["discord_user_name"]) == (person["id"], person["global_name"])
        assert (answer["properties"]["in_reply_to_user_id"],
                answer["properties"]["in_reply_to_user_name"]) == (person["id"],
                                                                   person["global_name"])
        assert own["externalUserId"] == answer["externalUserId"] == person["id"]


async def test_one_person_with_two_guild_nicknames_is_identified_once(stands: Stands) -> None:
    nicknames = {GUILD_A: "Ally", GUILD_B: "Alice of Beta"}
    for guild_id, nick in nicknames.items():
        stands.discord.world.guilds[guild_id].members[ALICE_ID]["nick"] = nick
    channels = [GENERAL_CHANNEL, BETA_CHANNEL, GENERAL_CHANNEL, BETA_CHANNEL]
    async with running_bot(stands) as bot:
        for number, channel in enumerate(channels):
            await stands.discord.send_message(channel, f"q{number}", mention_bot=True)
            await stands.discord.wait_for_messages(number + 1)
        await stands.greenflash.wait_for_accepted("/messages", 2 * len(channels))
        await bot.analytics.close()
    users = stands.greenflash.accepted_for("/users")
    assert [(r.json["externalUserId"], r.json["name"]) for r in users] == [
        (ALICE["id"], ALICE["global_name"])
    ]
    # Fire-and-forget calls may land in any order; Greenflash orders items by createdAt.
    questions = sorted((item for item in stands.greenflash.stored_messages()
                        if item["role"] == "user"), key=lambda item: item["createdAt"])
    shown = [item["properties"]["discord_user_name"] for item in questions]
    assert shown == ["Ally", "Alice of Beta", "Ally", "Alice of Beta"]


async def test_joining_a_guild_identifies_it_where_the_bot_is_allowed(stands: Stands) -> None:
    allowed, not_allowed = GUILD_A + (1 << 22), GUILD_A + (2 << 22)
    settings = bot_settings(stands, allowed_guild_ids=frozenset({GUILD_A, allowed}))
    async with running_bot(stands, settings) as bot:
        for guild_id, name in ((not_allowed, "Not Allowed Guild"), (allowed, "Joined Guild")):
            # A join's GUILD_CREATE has no "unavailable" (discord.py: on_guild_join).
            joined = {**stands.discord.world.guild_create(GUILD_A), "id": str(guild_id),
                      "name": name, "channels": [], "threads": []}
            joined.pop("unavailable", None)
            await stands.discord.dispatch("GUILD_CREATE", joined)
        await stands.greenflash.wait_for_accepted("/organizations", 1)
        await bot.analytics.close()  # anything else spawned is sent by now
    assert [(r.json["externalOrganizationId"], r.json["name"])
            for r in stands.greenflash.accepted_for("/organizations")] == [
        (str(allowed), "Joined Guild")
    ]
