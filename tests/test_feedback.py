"""👍/👎 reactions and /feedback become Greenflash ratings; failures become events."""

from __future__ import annotations

import asyncio

from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import TEST_PRODUCT
from tests.standins.discord_server import ALICE, BOB, GENERAL_CHANNEL, OTHER_BOT
from tests.standins.openai_server import INSUFFICIENT_QUOTA


async def ratings(stands: Stands) -> list[dict]:
    """Ratings in the order people gave them (``ratedAt``), which need not be the order the
    calls arrived in; the timestamp itself is left out of the comparison."""
    await asyncio.sleep(0.2)
    logged = sorted((r.json for r in stands.greenflash.accepted_for("/ratings")),
                    key=lambda rating: rating["ratedAt"])
    return [{key: value for key, value in rating.items() if key != "ratedAt"}
            for rating in logged]


async def test_thumbs_up_rates_that_reply(stands: Stands) -> None:
    async with running_bot(stands):
        question = await stands.discord.send_message(GENERAL_CHANNEL, "q", mention_bot=True)
        (reply,) = await stands.discord.wait_for_messages(1)
        await stands.greenflash.wait_for_accepted("/messages", 2)
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(reply["id"]), "👍", user=BOB)
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(question["id"]), "👍", user=BOB)
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(reply["id"]), "👎",
                                          user=OTHER_BOT)
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(reply["id"]), "🎉", user=BOB)
        await stands.discord.remove_reaction(GENERAL_CHANNEL, int(reply["id"]), "👍", user=BOB)
        logged = await ratings(stands)
    assert logged == [
        {"productId": TEST_PRODUCT, "rating": 1, "ratingMin": -1, "ratingMax": 1,
         "externalMessageId": reply["id"], "externalConversationId": str(GENERAL_CHANNEL)},
        {"productId": TEST_PRODUCT, "rating": 0, "ratingMin": -1, "ratingMax": 1,
         "externalMessageId": reply["id"], "externalConversationId": str(GENERAL_CHANNEL),
         "feedback": "reaction removed"},
    ]


async def test_a_reaction_on_any_part_of_an_old_reply_rates_it_after_a_restart(
    stands: Stands,
) -> None:
    stands.openai.script("\n".join(f"line {i} " + "x" * 70 for i in range(60)))
    settings = bot_settings(stands, max_tokens=4000, stream_replies=False)
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "long", mention_bot=True)
        parts = await stands.discord.wait_for_messages(3)
        await asyncio.sleep(0.2)
    async with running_bot(stands, settings):
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(parts[2]["id"]), "👎", user=ALICE)
        (rating,) = await ratings(stands)
    assert rating["externalMessageId"] == parts[0]["id"]
    assert rating["rating"] == -1
    assert rating["externalMessageId"] in {
        r.json["messages"][0]["externalMessageId"]
        for r in stands.greenflash.accepted_for("/messages")
    }


async def test_feedback_reactions_are_offered_when_enabled(stands: Stands) -> None:
    async with running_bot(stands, bot_settings(stands, feedback_reactions=True)):
        await stands.discord.send_message(GENERAL_CHANNEL, "q", mention_bot=True)
        (reply,) = await stands.discord.wait_for_messages(1)
        await stands.discord.wait_for(lambda r: r.method == "PUT" and "reactions" in r.path)
        await asyncio.sleep(0.2)
    added = [r.path for r in stands.discord.requests if r.method == "PUT" and "reactions" in r.path]
    assert len(added) == 2
    assert all(f"/messages/{reply['id']}/reactions/" in path for path in added)
    assert await ratings(stands) == []


async def test_feedback_command_rates_the_conversation(stands: Stands) -> None:
    async with running_bot(stands):
        interaction = await stands.discord.slash_command(
            "feedback", {"rating": 4, "comment": "Helpful, a bit slow"}
        )
        callback = await interaction.wait_for_callback()
        (rating,) = await ratings(stands)
    assert callback["data"]["flags"] & (1 << 6)
    assert rating == {"productId": TEST_PRODUCT, "rating": 4, "ratingMin": 1, "ratingMax": 5,
                      "externalConversationId": str(GENERAL_CHANNEL),
                      "feedback": "Helpful, a bit slow"}


async def test_model_failure_records_one_event_even_when_the_sdk_retries(stands: Stands) -> None:
    stands.openai.latency = 0.5
    stands.openai.fail_next(429, body=INSUFFICIENT_QUOTA)
    async with running_bot(stands) as bot:
        stands.greenflash.fail_next(500, headers={"retry-after-ms": "20"}, path="/events")
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "q", mention_bot=True)
        await stands.discord.wait_for_messages(1)
        await stands.greenflash.wait_for_accepted("/events", 1)
        await bot.analytics.close()
    assert len(stands.greenflash.failed_for("/events")) == 1
    (event,) = stands.greenflash.accepted_for("/events")
    assert (event.json["eventType"], event.json["insertId"], event.json["value"]) == (
        "reply_failed", f"reply_failed:{sent['id']}", "quota"
    )
    assert event.json["influence"] == "negative"
    assert stands.greenflash.failed_for("/events")[0].json["insertId"] == event.json["insertId"]
