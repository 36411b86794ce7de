"""``/knowledge`` for whom and where: admins only (after the tree-wide rule), a channel the
bot cannot read refused, titles autocompleted for admins only. Through the real bot and the
Discord stand-in; storage is the embedded SQLite file (both backends are covered end to end
in ``tests/storage/test_knowledge_bot.py``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.client import ChatBot
from bot.conversation.exchange import Voice
from bot.knowledge.desk import CITE, Search, briefed
from bot.knowledge.search import Passage
from bot.storage.knowledge import SourceInfo
from cogs.knowledge import sources_text
from tests.bot_harness import Stands, running_bot
from tests.standins.discord_world import ALICE, BOB, GENERAL_CHANNEL, GUILD_A, STAFF_CHANNEL

VIEW_CHANNEL = 1 << 10


async def answer(stands: Stands, name: str, options: dict[str, Any] | None = None, *,
                 user: dict[str, Any] = ALICE) -> str:
    interaction = await stands.discord.slash_command(name, options, user=user)
    first = await interaction.wait_for_callback()
    if first["type"] == 5:
        (body,) = await interaction.wait_for_followup(1, timeout=10)
        return str(body["content"])
    return str(first["data"]["content"])


async def test_a_member_without_manage_server_is_refused_and_nothing_changes(
    stands: Stands, bot: ChatBot
) -> None:
    attachment = stands.discord.attachment("faq.md", b"# FAQ\n\nOpen daily.", None,
                                           channel_id=GENERAL_CHANNEL)
    refused = await answer(stands, "knowledge add", {"file": attachment}, user=BOB)
    assert refused == "Only members with Manage Server can change this server's knowledge base."
    assert not stands.discord.cdn_files.served_for(attachment), "nothing was downloaded"
    for name, options in (("knowledge dms", {"state": "on"}),
                          ("knowledge channel add", {"channel": GENERAL_CHANNEL})):
        assert (await answer(stands, name, options, user=BOB)).startswith("Only members")
    assert await bot.knowledge.store.list_sources(GUILD_A) == []
    assert await bot.knowledge.store.dm_guilds([GUILD_A]) == []


async def test_titles_are_autocompleted_for_admins_only(stands: Stands, bot: ChatBot) -> None:
    await bot.knowledge.store.replace_source(GUILD_A, "Refund policy", "file", [])
    choices = []
    for user in (ALICE, BOB):
        interaction = await stands.discord.autocomplete(
            "knowledge remove", {"title": "ref"}, "title", user=user)
        choices.append((await interaction.wait_for_callback())["data"]["choices"])
    assert choices == [[{"name": "Refund policy", "value": "Refund policy"}], []]


async def test_a_channel_the_bot_cannot_read_is_refused(stands: Stands) -> None:
    stands.discord.world.add_private_places()
    world = stands.discord.world
    overwrites = world.channels[STAFF_CHANNEL]["permission_overwrites"]
    overwrites[:] = [o for o in overwrites if o["id"] != str(world.guilds[GUILD_A].bot_role_id)]
    async with running_bot(stands) as bot:
        said = await answer(stands, "knowledge channel add", {"channel": STAFF_CHANNEL})
        assert said == (f"I can't read <#{STAFF_CHANNEL}>: I need View Channel and Read "
                        "Message History there. Nothing was added.")
        assert await bot.knowledge.store.list_sources(GUILD_A) == []


def test_the_voice_is_briefed_for_one_question_only() -> None:
    voice = Voice("gpt-4o-mini", "You are helpful.", prompt_id="p1")
    search = Search("refunds", (Passage("Refund policy", "", "Thirty days.", 1.0),), "PASSAGES")
    assert briefed(voice, search).system_prompt == f"You are helpful.\n\n{CITE}\n\nPASSAGES"
    assert briefed(voice, None).system_prompt == f"You are helpful.\n\n{CITE}"
    assert voice.system_prompt == "You are helpful."


titles = st.text(st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=200)
infos = st.builds(
    SourceInfo, titles, st.just("file"), st.none(), st.integers(0, 10**9),
    st.integers(0, 5_000), st.just(dt.datetime(2026, 12, 4, tzinfo=dt.UTC)),
)


@given(st.lists(infos, min_size=1, max_size=50))
def test_the_list_fits_one_message_and_counts_every_source(sources: list[SourceInfo]) -> None:
    text = sources_text(sources)
    assert len(text) <= 2_000
    shown = text.count("\n• *")
    more = re.search(r"… and (\d+) more$", text)
    assert shown + (int(more.group(1)) if more else 0) == len(sources)
    assert shown >= 1
