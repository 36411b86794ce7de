"""The knowledge base through the whole bot, on SQLite and on PostgreSQL: files added with
``/knowledge add`` (downloaded from the Discord stand-in's CDN), what the model is given for
a question (asserted on the requests the OpenAI stand-in recorded), a channel source kept in
step with Discord and caught up after a restart, and the Greenflash retrieval chain."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.client import ChatBot
from bot.knowledge.config import KnowledgeSettings
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import POLL_INTERVAL, answers_to, until, with_values
from tests.knowledge.documents import NOISY_HTML, make_pdf
from tests.standins.discord_world import (
    ALICE,
    BETA_CHANNEL,
    BOB,
    GENERAL_CHANNEL,
    GUILD_A,
)
from tests.standins.openai_tools import offers_tools, tool_results
from tests.storage.conftest import Backend

EPHEMERAL = 1 << 6
REFUND = "# Refund policy\n\nRefunds reach the original card within thirty days.\n"
SHIPPING = "Parcels ship from Rotterdam every Tuesday by courier."
BETA_DOC = "# Beta handbook\n\nRefunds at Beta are store credit only, never cash.\n"


async def command(stands: Stands, name: str, options: dict[str, Any] | None = None, *,
                  user: dict[str, Any] = ALICE, channel_id: int = GENERAL_CHANNEL) -> str:
    """The command's ephemeral answer (its followup when it deferred first)."""
    interaction = await stands.discord.slash_command(name, options, user=user,
                                                     channel_id=channel_id)
    first = await interaction.wait_for_callback()
    if first["type"] == 5:
        (body,) = await interaction.wait_for_followup(1, timeout=20)
    else:
        body = first["data"]
    assert int(body.get("flags") or 0) & EPHEMERAL, body
    return str(body["content"])


async def add_file(stands: Stands, filename: str, data: bytes, *, title: str | None = None,
                   channel_id: int = GENERAL_CHANNEL, user: dict[str, Any] = ALICE,
                   **serving: Any) -> str:
    attachment = stands.discord.attachment(filename, data, None, channel_id=channel_id,
                                           **serving)
    options: dict[str, Any] = {"file": attachment} | ({"title": title} if title else {})
    return await command(stands, "knowledge add", options, user=user, channel_id=channel_id)


async def ask(stands: Stands, channel_id: int, text: str,
              author: dict[str, Any] = BOB) -> dict[str, Any]:
    sent = await stands.discord.send_message(channel_id, text, author=author, mention_bot=True)
    (reply, *_) = await until(lambda: answers_to(stands.discord, sent["id"]),
                              f"the answer to {text!r}", changed=stands.discord.next_change)
    return {"question": sent, "reply": reply}


def system_of(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


async def found(bot: ChatBot, guild: int, query: str) -> list[str]:
    return [p.text for p in await bot.knowledge.store.search(guild, query, 10)]


async def test_each_file_type_is_added_and_the_model_gets_its_passages_named(
    stands: Stands, backend: Backend
) -> None:
    pdf = make_pdf([["Warranty claims need the serial number printed under the lid."]])
    async with running_bot(stands, storage=backend.config) as bot:
        said = [
            await add_file(stands, "refunds.md", REFUND.encode(), title="Refund policy"),
            await add_file(stands, "shipping.txt", SHIPPING.encode()),
            await add_file(stands, "eu.html", NOISY_HTML),
            await add_file(stands, "warranty.pdf", pdf),
        ]
        assert all(line.startswith("Indexed *") for line in said), said
        assert "(pdf," in said[3] and "(html," in said[2]
        listed = await command(stands, "knowledge list")
        for title in ("Refund policy", "shipping.txt", "eu.html", "warranty.pdf"):
            assert f"*{title}*" in listed
        assert await found(bot, GUILD_A, "serial number lid")
        assert not any("analyticsbeacon" in t for t in await found(bot, GUILD_A, "refund"))

        stands.openai.script("From *Refund policy*: thirty days.")
        await ask(stands, GENERAL_CHANNEL, "how long do refunds take?")
        system = system_of(stands.openai.requests[-1])
        assert "Refunds reach the original card within thirty days." in system
        assert "from *Refund policy*" in system and "name the source" in system


async def test_guild_b_never_sees_guild_as_passages_and_a_removed_source_is_gone(
    stands: Stands, backend: Backend
) -> None:
    async with running_bot(stands, storage=backend.config):
        await add_file(stands, "refunds.md", REFUND.encode(), title="Refund policy")
        await add_file(stands, "beta.md", BETA_DOC.encode(), title="Beta handbook",
                       channel_id=BETA_CHANNEL, user=BOB)
        stands.openai.reply_with(
            lambda body: [{"name": "search_knowledge", "arguments": {"query": "refunds card"}}]
            if offers_tools(body) else "done")
        start = len(stands.openai.requests)
        await ask(stands, BETA_CHANNEL, "how do refunds reach the card?", author=ALICE)
        in_b = json.dumps(stands.openai.requests[start:])
        assert "store credit only" in in_b, "guild B's own passage was given"
        assert "original card" not in in_b, "guild A's passage crossed into guild B"

        assert await command(stands, "knowledge remove", {"title": "Refund policy"}) == (
            "Removed *Refund policy*.")
        start = len(stands.openai.requests)
        await ask(stands, GENERAL_CHANNEL, "how do refunds reach the card?")
        assert "original card" not in json.dumps(stands.openai.requests[start:])


async def test_a_channel_source_follows_new_edited_and_deleted_messages_and_catches_up(
    stands: Stands, backend: Backend
) -> None:
    discord = stands.discord
    before = await discord.send_message(GENERAL_CHANNEL, "Office wifi password is marmalade.")
    async with running_bot(stands, storage=backend.config) as bot:
        said = await command(stands, "knowledge channel add", {"channel": GENERAL_CHANNEL,
                                                               "title": "FAQ"})
        assert "is now knowledge, as *FAQ*" in said
        await _eventually(bot, "wifi password", "marmalade")
        new = await discord.send_message(GENERAL_CHANNEL, "Parking is free after six pm.")
        await _eventually(bot, "parking", "free after six")
        await discord.edit_message(GENERAL_CHANNEL, int(new["id"]), "Parking costs 3 euro.")
        await _eventually(bot, "parking", "3 euro")
        assert not any("free after six" in t for t in await found(bot, GUILD_A, "parking"))
        await discord.delete_message(GENERAL_CHANNEL, int(before["id"]))
        await _eventually(bot, "wifi password", None)

    # While the bot is down: one new message, one edited, one deleted.
    edited = await discord.send_message(GENERAL_CHANNEL, "Lunch is served at noon.")
    async with running_bot(stands, storage=backend.config) as bot:
        await _eventually(bot, "lunch", "at noon")
    await discord.send_message(GENERAL_CHANNEL, "The printer lives on floor two.")
    await discord.edit_message(GENERAL_CHANNEL, int(edited["id"]), "Lunch is served at one.")
    await discord.delete_message(GENERAL_CHANNEL, int(new["id"]))
    async with running_bot(stands, storage=backend.config) as bot:
        await _eventually(bot, "printer floor", "floor two")
        await _eventually(bot, "lunch", "at one")
        await _eventually(bot, "parking", None)


async def _eventually(bot: ChatBot, query: str, holding: str | None) -> None:
    """Until the index answers ``query`` with a passage holding ``holding`` (``None``: with
    no passage at all), once the listeners or the catch-up got there; 15 s at most."""
    async def done() -> bool:
        texts = await found(bot, GUILD_A, query)
        return not texts if holding is None else any(holding in t for t in texts)

    try:
        async with asyncio.timeout(15):
            # The index is a database another task writes: its answer is the condition.
            while not await done():  # noqa: ASYNC110
                await asyncio.sleep(POLL_INTERVAL)
    except TimeoutError:
        texts = await found(bot, GUILD_A, query)
        raise AssertionError(f"{query!r} finds {texts}, not one holding {holding!r}") from None


async def test_bounds_are_refused_through_the_command_and_nothing_is_indexed(
    stands: Stands, backend: Backend
) -> None:
    knowledge = KnowledgeSettings(max_file_bytes=2_000, max_chunks=3)
    async with running_bot(stands, storage=backend.config, knowledge=knowledge) as bot:
        big = b"word " * 1_000
        claimed = await add_file(stands, "big.txt", big)
        assert claimed == "`big.txt` is over the limit of 2 KB; nothing was indexed."
        lied = await add_file(stands, "liar.txt", b"small", size=10, body_size=50_000)
        assert lied == "`liar.txt` is over the limit of 2 KB; nothing was indexed."
        many = "\n\n".join(f"# Part {n}\n\nSection {n} text." for n in range(5)).encode()
        chunks = await add_file(stands, "parts.md", many)
        assert "makes 5 passages" in chunks and "KNOWLEDGE_MAX_CHUNKS" in chunks
        assert (await command(stands, "knowledge list")).startswith("This server has no")
        assert await bot.knowledge.store.list_sources(GUILD_A) == []


async def test_search_knowledge_in_the_agent_loop_and_the_greenflash_retrieval_chain(
    stands: Stands, backend: Backend
) -> None:
    async with running_bot(stands, storage=backend.config):
        await add_file(stands, "refunds.md", REFUND.encode(), title="Refund policy")
        ids = stands.openai.script_tool_calls(
            [{"name": "search_knowledge", "arguments": {"query": "refund card"}}])
        stands.openai.reply_with(
            lambda body: "Tool said: " + " | ".join(tool_results(body).values()))
        asked = await ask(stands, GENERAL_CHANNEL, "refunds?")
        answer = await until(
            lambda: next((m for m in stands.discord.sent_messages(GENERAL_CHANNEL)
                          if m["content"].startswith("Tool said")), None), "the answer")
        assert "[1] from *Refund policy*" in answer["content"]
        shown = [r.json.get("content", "") for r in stands.discord.requests
                 if r.method in {"POST", "PATCH"} and r.json and r.json.get("content")]
        assert any("📚 searching the knowledge base for “refund card”" in s for s in shown)
        records = await stands.greenflash.wait_for_accepted("/messages", 5)
    items = {i["externalMessageId"]: i for r in records for i in r.json["messages"]}
    root = asked["question"]["id"]
    up_front = items[f"{root}:knowledge"]
    assert up_front["messageType"] == "retrieval"
    assert up_front["parentExternalMessageId"] == root
    assert up_front["input"] == {"query": "refunds?"}
    assert "thirty days" in up_front["context"]
    assert up_front["properties"]["sources"] == ["Refund policy"]
    call = items[f"{root}:{ids[0]}"]
    assert call["parentExternalMessageId"] == up_front["externalMessageId"]
    searched = items[f"{root}:{ids[0]}:result"]
    assert searched["messageType"] == "retrieval"
    assert searched["parentExternalMessageId"] == call["externalMessageId"]
    assert searched["input"] == {"query": "refund card"}
    assert searched["properties"]["ranks"][0]["source"] == "Refund policy"
    final = items[answer["id"]]
    assert final["messageType"] == "final_response"
    assert final["parentExternalMessageId"] == searched["externalMessageId"]
    assert final["properties"]["knowledge_sources"] == ["Refund policy"]
    assert final["properties"]["knowledge_hit"] is True


async def test_passages_up_front_with_tools_off_and_a_miss_is_logged_as_a_hole(
    stands: Stands, backend: Backend
) -> None:
    settings = with_values(bot_settings(stands), tools="off")
    async with running_bot(stands, settings, storage=backend.config):
        await add_file(stands, "refunds.md", REFUND.encode(), title="Refund policy")
        stands.openai.script("thirty days", "no idea")
        await ask(stands, GENERAL_CHANNEL, "refunds to my card?")
        body = stands.openai.requests[-1]
        assert not offers_tools(body)
        assert "within thirty days" in system_of(body)
        missed = await ask(stands, GENERAL_CHANNEL, "what colour is the logo?")
        assert "No passage in this server's knowledge base" in system_of(
            stands.openai.requests[-1])
        reply_id = missed["reply"]["id"]
        final = await until(lambda: next((m for m in stands.greenflash.stored_messages()
                                          if m["externalMessageId"] == reply_id), None),
                            "the answer in Greenflash")
    assert final["properties"]["knowledge_hit"] is False
    assert final["properties"]["knowledge_sources"] == []


async def test_here_off_and_dms_follow_the_switches(stands: Stands, backend: Backend) -> None:
    async with running_bot(stands, storage=backend.config):
        await add_file(stands, "refunds.md", REFUND.encode(), title="Refund policy")
        assert await command(stands, "knowledge here", {"state": "off"}) == (
            "Knowledge is off in this channel.")
        stands.openai.script("one", "two", "three")
        await ask(stands, GENERAL_CHANNEL, "refunds to my card?")
        body = stands.openai.requests[-1]
        assert "within thirty days" not in system_of(body)
        assert "search_knowledge" in {t["function"]["name"] for t in body["tools"]}

        dm = stands.discord.dm_channel(int(BOB["id"]))
        await ask(stands, dm, "refunds to my card?")
        assert "search_knowledge" not in json.dumps(stands.openai.requests[-1])
        await command(stands, "knowledge dms", {"state": "on"})
        await ask(stands, dm, "refunds to my card?")
        assert "within thirty days" in system_of(stands.openai.requests[-1])
