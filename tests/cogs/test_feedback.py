"""👍/👎 reactions and /feedback become Greenflash ratings; failures and deletions become events.

A reaction change rates the reply with its current verdict, (up - down) / (up + down), 0 when
nobody has reacted (issue 12); the expected ratings below are worked out by hand from that
formula and the issue's own examples.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import discord
import pytest

from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import TEST_PRODUCT, until
from tests.standins.discord_rest import MAX_CONTENT
from tests.standins.discord_server import ALICE, BOB, GENERAL_CHANNEL, OTHER_BOT, RecordedRequest
from tests.standins.openai_server import INSUFFICIENT_QUOTA


async def ratings(stands: Stands, count: int) -> list[dict[str, Any]]:
    """The first ``count`` ratings, once stored, in the order people gave them (``ratedAt``,
    which need not be the order the calls arrived in), without the timestamp."""
    stored = await until(lambda: stands.greenflash.ratings if len(stands.greenflash.ratings)
                         >= count else None, f"{count} rating(s)")
    ordered = sorted(stored, key=lambda rating: rating["ratedAt"])
    return [{key: value for key, value in rating.items() if key != "ratedAt"}
            for rating in ordered]


def verdicts(logged: list[dict[str, Any]]) -> list[tuple[float, str]]:
    return [(rating["rating"], rating["feedback"]) for rating in logged]


def reads_since(stands: Stands, start: int) -> list[RecordedRequest]:
    """Discord REST calls after index ``start`` that feedback could have made."""
    return [request for request in stands.discord.requests[start:] if request.method == "GET"]


async def react(stands: Stands, changes: list[tuple[bool, dict[str, Any], str, dict[str, Any]]]
                ) -> None:
    """Each (added, message, emoji, user) in turn, as MESSAGE_REACTION_ADD / _REMOVE."""
    for added, message, emoji, user in changes:
        change = stands.discord.add_reaction if added else stands.discord.remove_reaction
        await change(GENERAL_CHANNEL, int(message["id"]), emoji, user=user)


async def asked_and_answered(stands: Stands) -> tuple[dict[str, Any], dict[str, Any]]:
    question = await stands.discord.send_message(GENERAL_CHANNEL, "q", mention_bot=True)
    (reply,) = await stands.discord.wait_for_messages(1)
    await stands.greenflash.wait_for_accepted("/messages", 2)
    return question, reply


A, B = ALICE, BOB
SEQUENCES = {
    # A 👍, B 👍, A takes theirs back: B's 👍 is still there.
    "two-up-one-withdrawn": ([(True, A, "👍"), (True, B, "👍"), (False, A, "👍")],
                             [(1, "1 👍 0 👎"), (1, "2 👍 0 👎"), (1, "1 👍 0 👎")]),
    # A 👍, then 👎, then removes the old 👍: only the 👎 is left.
    "down-then-old-up-removed": ([(True, A, "👍"), (True, A, "👎"), (False, A, "👍")],
                                 [(1, "1 👍 0 👎"), (0, "1 👍 1 👎"), (-1, "0 👍 1 👎")]),
    # One each, then both withdrawn: back to no verdict.
    "one-each-then-none": ([(True, A, "👍"), (True, B, "👎"), (False, B, "👎"),
                            (False, A, "👍")],
                           [(1, "1 👍 0 👎"), (0, "1 👍 1 👎"), (1, "1 👍 0 👎"),
                            (0, "0 👍 0 👎")]),
}


@pytest.mark.parametrize(("changes", "expected"), SEQUENCES.values(), ids=SEQUENCES.keys())
async def test_each_reaction_change_rates_the_reply_with_its_current_verdict_for_free(
    stands: Stands, changes: list[tuple[bool, dict[str, Any], str]],
    expected: list[tuple[float, str]],
) -> None:
    async with running_bot(stands):
        _, reply = await asked_and_answered(stands)
        start = len(stands.discord.requests)
        await react(stands, [(added, reply, emoji, user) for added, user, emoji in changes])
        logged = await ratings(stands, len(changes))
    assert verdicts(logged) == expected
    assert {(r["productId"], r["ratingMin"], r["ratingMax"], r["externalMessageId"],
             r["externalConversationId"]) for r in logged} == {
        (TEST_PRODUCT, -1, 1, reply["id"], str(GENERAL_CHANNEL))}
    assert reads_since(stands, start) == [], "a reply this process sent costs no REST call"


COSTS = {
    # Not people's 👍/👎 on a reply: nothing counts, nothing is asked of Discord (an add names
    # the message's author). The last 👍 shows the events before it were all handled.
    "only-people-on-replies": (
        [(True, "question", "👍", BOB), (True, "reply", "👎", OTHER_BOT),
         (True, "reply", "🎉", BOB), (False, "reply", "🎉", BOB),
         (False, "reply", "👎", OTHER_BOT), (False, "question", "👍", BOB),
         (True, "reply", "👍", BOB)],
        [(1, "1 👍 0 👎")], []),
    # Removals carry no author: Discord is asked once about the message, then it is known.
    "removals-on-no-reply": (
        [(False, "question", "👍", BOB), (False, "question", "👎", BOB),
         (False, "question", "👍", BOB), (True, "reply", "👎", BOB)],
        [(-1, "0 👍 1 👎")], ["question"]),
}


@pytest.mark.parametrize(("changes", "expected", "fetched"), COSTS.values(), ids=COSTS.keys())
async def test_what_counts_and_what_it_costs(
    stands: Stands, changes: list[tuple[bool, str, str, dict[str, Any]]],
    expected: list[tuple[float, str]], fetched: list[str],
) -> None:
    async with running_bot(stands):
        question, reply = await asked_and_answered(stands)
        messages = {"question": question, "reply": reply}
        start = len(stands.discord.requests)
        await react(stands, [(added, messages[which], emoji, user)
                             for added, which, emoji, user in changes])
        logged = await ratings(stands, len(expected))  # events are handled in order
    assert verdicts(logged) == expected
    assert len(stands.greenflash.ratings) == len(expected)
    assert [r.path for r in reads_since(stands, start)] == [
        f"/channels/{GENERAL_CHANNEL}/messages/{messages[which]['id']}" for which in fetched
    ]


async def test_an_old_split_reply_is_traced_once_and_counts_what_was_there(
    stands: Stands,
) -> None:
    answer = "\n".join(f"line {i} " + "x" * 70 for i in range(60))
    stands.openai.script(answer)
    settings = bot_settings(stands, max_tokens=4000, stream_replies=False,
                            feedback_reactions=True)
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "long", mention_bot=True)
        parts = await stands.discord.wait_for_messages(math.ceil(len(answer) / MAX_CONTENT))
        for _ in range(2):  # the bot's own invitations, on the last part
            await stands.discord.wait_for(lambda r: r.method == "PUT" and "reactions" in r.path
                                          and parts[-1]["id"] in r.path)
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(parts[0]["id"]), "👍", user=BOB)
        await ratings(stands, 1)
    first, last = int(parts[0]["id"]), int(parts[-1]["id"])
    async with running_bot(stands, settings):
        start = len(stands.discord.requests)
        await stands.discord.add_reaction(GENERAL_CHANNEL, last, "👎", user=ALICE)
        await ratings(stands, 2)  # traced; a change made while Discord is asked may be in it
        await stands.discord.remove_reaction(GENERAL_CHANNEL, first, "👍", user=BOB)
        await stands.discord.remove_reaction(GENERAL_CHANNEL, last, "👎", user=ALICE)
        logged = await ratings(stands, 4)
    assert verdicts(logged) == [(1, "1 👍 0 👎"), (0, "1 👍 1 👎"), (-1, "0 👍 1 👎"),
                                (0, "0 👍 0 👎")]
    assert {rating["externalMessageId"] for rating in logged} == {parts[0]["id"]}
    assert parts[0]["id"] in {record.json["messages"][0]["externalMessageId"]
                              for record in stands.greenflash.accepted_for("/messages")}
    reads = reads_since(stands, start)
    assert [r.path for r in reads] == [f"/channels/{GENERAL_CHANNEL}/messages/{last}",
                                       f"/channels/{GENERAL_CHANNEL}/messages"]


async def test_the_bots_invitations_never_count(stands: Stands) -> None:
    async with running_bot(stands, bot_settings(stands, feedback_reactions=True)):
        _, reply = await asked_and_answered(stands)
        invitations = [await stands.discord.wait_for(
            lambda r, emoji=emoji: r.method == "PUT" and "reactions" in r.path
            and reply["id"] in r.path and emoji in unquote(r.path)
        ) for emoji in ("👍", "👎")]
        assert len(invitations) == 2
        await stands.discord.add_reaction(GENERAL_CHANNEL, int(reply["id"]), "👍", user=ALICE)
        logged = await ratings(stands, 1)
    assert verdicts(logged) == [(1, "1 👍 0 👎")]


async def test_feedback_command_rates_the_conversation(stands: Stands) -> None:
    async with running_bot(stands):
        interaction = await stands.discord.slash_command(
            "feedback", {"rating": 4, "comment": "Helpful, a bit slow"}
        )
        callback = await interaction.wait_for_callback()
        (rating,) = await ratings(stands, 1)
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


async def test_a_prompt_deleted_before_its_reply_is_an_event_at_the_time_it_happened(
    stands: Stands,
) -> None:
    stands.openai.latency = 3.0
    greenflash = stands.greenflash
    async with running_bot(stands) as bot:
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "never mind",
                                                 mention_bot=True)
        await stands.openai.wait_for_requests(1)
        for logged_first in ("/messages", "/users", "/organizations"):
            await greenflash.wait_for_accepted(logged_first, 1)
        await greenflash.down()  # from here the event is the only call, and it is held
        before = discord.utils.utcnow()
        await stands.discord.delete_message(GENERAL_CHANNEL, int(sent["id"]))
        await until(lambda: bot.analytics.reachability.down, "the outage to be seen")
        after = discord.utils.utcnow()  # the event is held from here until Greenflash is up
        await greenflash.up()
        (event,) = await greenflash.wait_for_accepted("/events", 1, timeout=10)
    assert (event.json["eventType"], event.json["influence"], event.json["insertId"]) == (
        "prompt_deleted", "neutral", f"prompt_deleted:{sent['id']}"
    )
    assert event.json["externalUserId"] == ALICE["id"]
    assert event.json["externalConversationId"] == str(GENERAL_CHANNEL)
    assert before <= datetime.fromisoformat(event.json["eventAt"]) <= after


async def test_reset_is_an_event_at_the_moment_of_the_command(stands: Stands) -> None:
    async with running_bot(stands):
        interaction = await stands.discord.slash_command("reset")
        await interaction.wait_for_callback()
        (event,) = await stands.greenflash.wait_for_accepted("/events", 1)
    assert (event.json["eventType"], event.json["influence"]) == ("conversation_reset",
                                                                  "neutral")
    assert datetime.fromisoformat(event.json["eventAt"]) == discord.utils.snowflake_time(
        interaction.id)
