"""``/insights`` and ``/persona stats`` through the real app-command tree, the Discord
stand-in and the Greenflash stand-in's read endpoints."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from bot.analytics.insights import SENTENCES, Outcome
from bot.client import ChatBot
from cogs.insights import DIGEST_OFF, INBOX_TITLE, NO_PERSONAS, NOT_ADMIN
from cogs.insights_views import GREENFLASH_APP, jump_link
from tests.bot_harness import Stands, running_bot
from tests.standins.discord_world import (
    ALICE_ID,
    BETA_CHANNEL,
    BOB,
    CHAT_CHANNEL,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
    THREAD,
)

DEFERRED = 5
EPHEMERAL = 1 << 6
TIME_LIMIT = 0.5


async def run(stands: Stands, name: str, options: dict | None = None, **where: Any) -> dict:
    """The command's one visible answer: its callback's message, else its first followup
    (after a deferral)."""
    interaction = await stands.discord.slash_command(name, options, **where)
    callback = await interaction.wait_for_callback()
    if callback["type"] != DEFERRED:
        return dict(callback["data"])
    assert callback["data"]["flags"] & EPHEMERAL, "deferred as ephemeral"
    (followup,) = await interaction.wait_for_followup(1, timeout=4 * TIME_LIMIT + 5)
    return followup


def insights_cog(bot: ChatBot) -> Any:
    """The loaded cog (discord.py loads an extension as a fresh module, so its class is not
    the one this test imports)."""
    cog = bot.get_cog("Insights")
    assert cog is not None
    return cog


def fields(answer: dict) -> dict[str, str]:
    (embed,) = answer["embeds"]
    return {field["name"]: field["value"] for field in embed.get("fields", [])}


def analytics_requests(stands: Stands) -> int:
    standin = stands.greenflash
    return sum(record.path.endswith("/analytics")
               for record in (*standin.accepted, *standin.failed, *standin.abandoned))


async def test_an_admin_sees_the_servers_figures_topics_and_summary(stands: Stands) -> None:
    stands.greenflash.script_organization_analytics(
        str(GUILD_A), conversations=12, quality_index=0.82, rating=4.5, sentiment=0.5,
        frustration=0.7, struggle=0.1, topics={"billing": 3, "login": 2},
        keywords={"refund": 2}, summary="Members mostly ask about billing.")
    stands.greenflash.script_organization_analytics(str(GUILD_B), conversations=99)
    async with running_bot(stands, insights_mode="insights"):
        answer = await run(stands, "insights overview")

    assert answer["flags"] & EPHEMERAL
    (embed,) = answer["embeds"]
    assert embed["url"] == GREENFLASH_APP
    assert embed["description"] == "Members mostly ask about billing."
    shown = fields(answer)
    assert shown["Conversations"] == "12"
    assert shown["Quality index"] == "0.82"
    assert shown["Average rating"] == "4.5"
    assert shown["Average sentiment"].startswith("positive")
    assert shown["Frustration"].startswith("high")
    assert shown["Struggle"].startswith("low")
    assert shown["Top topics"] == "billing (3), login (2)"
    assert shown["Top keywords"] == "refund (2)"


async def test_simple_mode_shows_the_figures_only(stands: Stands, bot: ChatBot) -> None:
    stands.greenflash.script_organization_analytics(
        str(GUILD_A), conversations=5, topics={"billing": 3}, summary="Calm.")
    answer = await run(stands, "insights overview")
    assert fields(answer)["Conversations"] == "5"
    assert "Top topics" not in fields(answer)
    assert "description" not in answer["embeds"][0]


async def test_a_member_without_manage_server_is_refused_and_nothing_is_read(
    stands: Stands, bot: ChatBot
) -> None:
    stands.greenflash.script_organization_analytics(str(GUILD_A), conversations=5)
    for command, options in (("insights overview", None), ("insights inbox", None),
                             ("persona stats", None), ("insights digest off", None),
                             ("insights digest set", {"channel": CHAT_CHANNEL})):
        refused = await run(stands, command, options, user=BOB)
        assert refused["flags"] & EPHEMERAL
        assert refused["content"] == NOT_ADMIN.format(role="")
    assert analytics_requests(stands) == 0
    assert not stands.greenflash.accepted_for("/inbox")
    assert await insights_cog(bot).digests.channels() == {}


async def test_a_second_overview_within_the_ttl_costs_no_request(
    stands: Stands, bot: ChatBot
) -> None:
    stands.greenflash.script_organization_analytics(str(GUILD_A), conversations=5)
    first = await run(stands, "insights overview")
    second = await run(stands, "insights overview", channel_id=THREAD)
    assert first["embeds"] == second["embeds"]
    assert analytics_requests(stands) == 1


@pytest.mark.parametrize("failure", ["plan", "nothing yet", "timed out"])
async def test_each_failure_is_one_sentence(stands: Stands, failure: str) -> None:
    org_id = stands.greenflash.script_organization_analytics(
        str(GUILD_A), conversations=0 if failure == "nothing yet" else 5)
    if failure == "plan":
        stands.greenflash.plan = "free"
    if failure == "timed out":
        stands.greenflash.answer_late_next(TIME_LIMIT * 4,
                                           path=f"/organizations/{org_id}/analytics")
    async with running_bot(stands, insights_timeout=TIME_LIMIT):
        answer = await run(stands, "insights overview")
    assert answer["flags"] & EPHEMERAL
    assert answer["content"] == SENTENCES[Outcome(failure)]
    assert not answer.get("embeds")


async def test_without_a_greenflash_key_the_commands_say_analytics_are_off(
    stands: Stands,
) -> None:
    async with running_bot(stands, api_key=None) as bot:
        overview = await run(stands, "insights overview")
        inbox = await run(stands, "insights inbox")
        stats = await run(stands, "persona stats")
        digest = await run(stands, "insights digest set", {"channel": CHAT_CHANNEL})
        assert not insights_cog(bot).daily_digest.is_running()
    off = SENTENCES[Outcome.OFF]
    assert [a["content"] for a in (overview, inbox, stats, digest)] == [off] * 4
    assert not stands.greenflash.accepted and not stands.greenflash.failed


async def test_the_inbox_lists_only_this_guilds_conversations_with_jump_links(
    stands: Stands, bot: ChatBot
) -> None:
    stands.greenflash.flag_for_review(str(GENERAL_CHANNEL), organization=str(GUILD_A),
                                      severity=4, trigger="guardrail", topic="refunds")
    stands.greenflash.flag_for_review(str(THREAD), organization=str(GUILD_A), severity=2,
                                      trigger="expectation_check")
    stands.greenflash.flag_for_review(str(BETA_CHANNEL), organization=str(GUILD_B),
                                      severity=5, trigger="novelty")
    answer = await run(stands, "insights inbox")

    (embed,) = answer["embeds"]
    assert embed["title"] == INBOX_TITLE
    lines = embed["description"].splitlines()
    assert len(lines) == 2
    general = next(line for line in lines if str(GENERAL_CHANNEL) in line)
    assert "severity 4" in general and "guardrail" in general and "refunds" in general
    assert f"({jump_link(GUILD_A, GENERAL_CHANNEL)})" in general
    thread = next(line for line in lines if str(THREAD) in line)
    assert "severity 2" in thread and f"({jump_link(GUILD_A, THREAD)})" in thread
    assert str(BETA_CHANNEL) not in embed["description"]
    for line in lines:  # each link names a channel of this guild that Discord knows
        channel = int(line.split("https://discord.com/channels/")[1].split(")")[0].split("/")[1])
        assert stands.discord.world.guild_of(channel) == GUILD_A


async def test_the_digest_channel_is_saved_and_turned_off(
    stands: Stands, bot: ChatBot
) -> None:
    on = await run(stands, "insights digest set", {"channel": CHAT_CHANNEL})
    assert on["flags"] & EPHEMERAL
    assert f"<#{CHAT_CHANNEL}>" in on["content"] and "09:00 UTC" in on["content"]
    cog = insights_cog(bot)
    assert await cog.digests.channels() == {GUILD_A: CHAT_CHANNEL}
    assert cog.daily_digest.next_iteration is not None
    assert (cog.daily_digest.next_iteration.hour, cog.daily_digest.next_iteration.minute) == (9, 0)

    off = await run(stands, "insights digest off")
    assert off["content"] == DIGEST_OFF
    assert await cog.digests.channels() == {}
    changes = await bot.storage.recent_changes(GUILD_A)
    assert [(c.setting, c.new, c.user_id) for c in changes[:2]] == [
        ("digest", None, ALICE_ID), ("digest", str(CHAT_CHANNEL), ALICE_ID)]


def prompt_id(text: str) -> str:
    return f"persona:{GUILD_A}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


async def test_persona_stats_shows_two_personas_side_by_side(
    stands: Stands, bot: ChatBot
) -> None:
    assert (await run(stands, "persona stats"))["content"] == NO_PERSONAS
    for text in ("You are a pirate.", "You are a butler."):
        await run(stands, "persona set", {"text": text})
    stands.greenflash.script_prompt_analytics(
        prompt_id("You are a pirate."), conversations=7, quality_index=0.61,
        last_used_at="2026-12-01T10:00:00+00:00")
    stands.greenflash.script_prompt_analytics(
        prompt_id("You are a butler."), conversations=3, quality_index=0.9)

    answer = await run(stands, "persona stats")

    assert answer["flags"] & EPHEMERAL
    (embed,) = answer["embeds"]
    assert [field["name"] for field in embed["fields"]] == [
        "You are a butler.", "You are a pirate."]
    assert all(field["inline"] for field in embed["fields"])
    butler, pirate = (field["value"] for field in embed["fields"])
    assert "Conversations: 3" in butler and "Quality index: 0.90" in butler
    assert "Last used: never" in butler
    assert "Conversations: 7" in pirate and "Quality index: 0.61" in pirate
    assert "<t:1796119200:R>" in pirate


async def test_persona_stats_of_a_persona_greenflash_has_not_seen_says_so(
    stands: Stands, bot: ChatBot
) -> None:
    await run(stands, "persona set", {"text": "Brand new."})
    answer = await run(stands, "persona stats")
    (embed,) = answer["embeds"]
    assert [(f["name"], f["value"]) for f in embed["fields"]] == [
        ("Brand new.", "No conversations yet.")]


async def test_persona_stats_on_a_plan_without_analytics_is_one_sentence(
    stands: Stands, bot: ChatBot
) -> None:
    await run(stands, "persona set", {"text": "You are a pirate."})
    stands.greenflash.script_prompt_analytics(prompt_id("You are a pirate."), conversations=7)
    stands.greenflash.plan = "free"
    answer = await run(stands, "persona stats")
    assert answer["content"] == SENTENCES[Outcome.PLAN]
    assert not answer.get("embeds")
