"""The assistant looks things up: the agent loop end to end, through the real discord.py
client, the real openai SDK against the OpenAI stand-in playing tool calls, and the real
greenflash SDK. What a person cannot read never reaches any request the model received."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.agent.config import AgentSettings
from bot.agent.search import SearXNGSearch
from bot.agent.toolbox import Toolbox
from bot.attachments.download import Origin
from bot.client import ChatBot
from bot.storage import Storage, StorageConfig
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import with_values
from tests.standins.discord_server import (
    ALICE,
    BETA_CHANNEL,
    BOB,
    GENERAL_CHANNEL,
    GUILD_A,
    THREAD,
)
from tests.standins.discord_world import DAVE, STAFF_CHANNEL
from tests.standins.openai_tools import offers_tools, tool_results
from tests.standins.search_base import Hit
from tests.standins.searxng_server import SearXNGStandIn
from tests.standins.web_pages import ARTICLE_TEXT, NAV_TEXT, SCRIPT_TEXT, WebPagesStandIn

SECRET = "the launch code is 0451"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def after_tools(body: dict[str, Any]) -> str:
    """The model's answer once it has tool results: it repeats them, so a test sees what
    the tools told it."""
    return "From the tools: " + " | ".join(tool_results(body).values())


def every_request(stands: Stands) -> str:
    return json.dumps(stands.openai.requests)


async def answer_to(stands: Stands, channel_id: int, contains: str) -> dict[str, Any]:
    """The bot's message in ``channel_id`` once its text holds ``contains`` (a streamed or
    status-first reply is edited into its answer)."""
    def found() -> dict[str, Any] | None:
        return next((m for m in stands.discord.sent_messages(channel_id)
                     if contains in m["content"]), None)
    return await stands.discord.until(found, 10.0, f"an answer holding {contains!r}")


@pytest_asyncio.fixture
async def private_stands(stands: Stands) -> Stands:
    stands.discord.world.add_private_places()
    return stands


@pytest_asyncio.fixture
async def agent_bot(private_stands: Stands) -> AsyncIterator[ChatBot]:
    async with running_bot(private_stands) as bot:
        yield bot


async def test_read_channel_answers_from_what_the_channel_says(
    private_stands: Stands, agent_bot: ChatBot
) -> None:
    stands = private_stands
    await stands.discord.send_message(THREAD, "Decision: we ship on Friday.", author=ALICE)
    stands.openai.script_tool_calls([call("read_channel", channel="general thread", limit=5)])
    stands.openai.reply_with(after_tools)
    await stands.discord.send_message(GENERAL_CHANNEL, "what did we decide?", mention_bot=True,
                                      author=BOB)
    answer = await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    assert "Decision: we ship on Friday." in answer["content"]
    first, second = stands.openai.requests[-2:]
    assert offers_tools(first) and {t["function"]["name"] for t in first["tools"]} == {
        "read_channel", "read_message"}
    assert "Alice: Decision: we ship on Friday." in next(iter(tool_results(second).values()))
    shown = [r.json.get("content", "") for r in stands.discord.requests
             if r.method in {"POST", "PATCH"} and r.json and r.json.get("content")]
    assert any(line.startswith("-# 📖 reading #general thread") for line in shown)


async def test_a_private_channel_is_refused_and_its_text_reaches_no_request(
    private_stands: Stands, agent_bot: ChatBot
) -> None:
    stands = private_stands
    await stands.discord.send_message(STAFF_CHANNEL, SECRET, author=DAVE)
    stands.openai.reply_with(after_tools)
    stands.openai.script_tool_calls([call("read_channel", channel=f"<#{STAFF_CHANNEL}>")])
    await stands.discord.send_message(GENERAL_CHANNEL, "what is in staff?", mention_bot=True,
                                      author=BOB)
    answer = await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    assert "you can't see #staff" in answer["content"]
    assert SECRET not in every_request(stands)

    stands.openai.script_tool_calls([call("read_channel", channel="staff")])
    await stands.discord.send_message(GENERAL_CHANNEL, "and for me?", mention_bot=True,
                                      author=DAVE)
    await answer_to(stands, GENERAL_CHANNEL, SECRET)
    assert SECRET in every_request(stands), "the staff member's own read reached the model"


async def test_another_servers_channel_and_link_are_refused(
    private_stands: Stands, agent_bot: ChatBot
) -> None:
    stands = private_stands
    await stands.discord.send_message(BETA_CHANNEL, SECRET, author=BOB)
    link = f"https://discord.com/channels/933453536094715904/{BETA_CHANNEL}/1"
    stands.openai.script_tool_calls([
        call("read_channel", channel=str(BETA_CHANNEL)), call("read_message", link=link),
    ])
    stands.openai.reply_with(after_tools)
    await stands.discord.send_message(GENERAL_CHANNEL, "read beta", mention_bot=True,
                                      author=BOB)
    answer = await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    assert answer["content"].count("another server") == 2
    assert SECRET not in every_request(stands)


async def test_a_model_that_keeps_calling_tools_gets_a_last_round_without_them(
    stands: Stands,
) -> None:
    def always_tools(body: dict[str, Any]) -> str | Sequence[dict[str, Any]]:
        return [call("read_channel", channel="here")] if offers_tools(body) else "done"

    stands.openai.reply_with(always_tools)
    agent = AgentSettings(max_steps=3)
    async with running_bot(stands, agent=agent):
        start = len(stands.openai.requests)
        await stands.discord.send_message(GENERAL_CHANNEL, "loop", mention_bot=True)
        await answer_to(stands, GENERAL_CHANNEL, "done")
    rounds = stands.openai.requests[start:]
    assert [offers_tools(body) for body in rounds] == [True, True, False]


async def test_two_calls_in_one_round_run_and_are_chained_in_greenflash(
    stands: Stands, bot: ChatBot
) -> None:
    ids = stands.openai.script_tool_calls([
        call("read_channel", channel="here", limit=3), call("read_message", link="not a link"),
    ])
    stands.openai.reply_with(after_tools)
    question = await stands.discord.send_message(GENERAL_CHANNEL, "look twice", mention_bot=True)
    answer = await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    assert "that is not a Discord message link" in answer["content"]
    assert set(tool_results(stands.openai.requests[-1])) == set(ids)

    records = await stands.greenflash.wait_for_accepted("/messages", 6)
    items = [item for record in records for item in record.json["messages"]]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_type.setdefault(item.get("messageType") or item["role"], []).append(item)
    root = question["id"]
    calls, seen, errors = by_type["tool_call"], by_type["observation"], by_type["tool_error"]
    assert {c["toolName"] for c in calls} == {"read_channel", "read_message"}
    assert all(c["parentExternalMessageId"] == root for c in calls)
    assert {c["input"].get("channel") for c in calls} == {"here", None}
    call_ids = {c["externalMessageId"]: c["toolName"] for c in calls}
    assert call_ids[seen[0]["parentExternalMessageId"]] == "read_channel"
    assert call_ids[errors[0]["parentExternalMessageId"]] == "read_message"
    assert errors[0]["output"]["error"] == "that is not a Discord message link"
    (final,) = by_type["final_response"]
    assert final["externalMessageId"] == answer["id"]
    assert final["parentExternalMessageId"] in {seen[0]["externalMessageId"],
                                                errors[0]["externalMessageId"]}
    assert final["content"] == answer["content"]
    assert final["properties"]["tool_calls"] == 2


async def test_a_reply_without_tools_is_logged_as_before(stands: Stands, bot: ChatBot) -> None:
    stands.openai.script("plain answer")
    question = await stands.discord.send_message(GENERAL_CHANNEL, "hi", mention_bot=True)
    await answer_to(stands, GENERAL_CHANNEL, "plain answer")
    records = await stands.greenflash.wait_for_accepted("/messages", 2)
    items = [item for record in records for item in record.json["messages"]]
    assert [item.get("role") for item in items] == ["user", "assistant"]
    assert items[1]["parentExternalMessageId"] == question["id"]
    assert not any("messageType" in item for item in items)


async def test_a_server_without_tools_is_asked_again_without_them_and_remembered(
    stands: Stands, bot: ChatBot
) -> None:
    stands.openai.no_tools_models.add(bot.model.model)
    stands.openai.script("first", "second")
    start = len(stands.openai.requests)
    await stands.discord.send_message(GENERAL_CHANNEL, "one", mention_bot=True)
    await answer_to(stands, GENERAL_CHANNEL, "first")
    await stands.discord.send_message(GENERAL_CHANNEL, "two", mention_bot=True)
    await answer_to(stands, GENERAL_CHANNEL, "second")
    # Offered once, refused with the server's 400, asked again without; never offered again.
    assert [offers_tools(body) for body in stands.openai.requests[start:]] == [
        True, False, False]
    assert bot.model.tools_refused


async def test_tools_off_sends_none(stands: Stands) -> None:
    settings = with_values(bot_settings(stands), tools="off")
    stands.openai.script("no tools here")
    async with running_bot(stands, settings):
        start = len(stands.openai.requests)
        await stands.discord.send_message(GENERAL_CHANNEL, "hi", mention_bot=True)
        await answer_to(stands, GENERAL_CHANNEL, "no tools here")
    assert not offers_tools(stands.openai.requests[start])


async def test_every_round_counts_against_the_daily_budget(
    stands: Stands, tmp_path: Path
) -> None:
    settings = bot_settings(stands)
    config = StorageConfig(database_path=str(tmp_path / "bot.sqlite3"),
                           model_allowlist=(settings.model,))
    stands.openai.script_tool_calls([call("read_channel", channel="here")])
    stands.openai.reply_with(after_tools)
    async with running_bot(stands, settings, storage=config):
        await stands.discord.send_message(GENERAL_CHANNEL, "count me", mention_bot=True,
                                          author=ALICE)
        await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    rounds = stands.openai.usage_served[-2:]
    spent = sum(usage["total_tokens"] for usage in rounds)
    assert spent > rounds[-1]["total_tokens"]
    storage = Storage(config)  # the bot's close waited for its charges
    try:
        assert (await storage.usage(GUILD_A, int(ALICE["id"]))).tokens == spent
    finally:
        await storage.close()


@pytest_asyncio.fixture
async def web() -> AsyncIterator[tuple[SearXNGStandIn, WebPagesStandIn]]:
    async with SearXNGStandIn() as searxng, WebPagesStandIn() as pages:
        yield searxng, pages


async def test_web_search_then_read_page_gives_the_readable_text(
    stands: Stands, web: tuple[SearXNGStandIn, WebPagesStandIn]
) -> None:
    searxng, pages = web
    searxng.hits = [Hit("An article", f"{pages.base_url}/article", "the <strong>news</strong>")]
    settings = AgentSettings(web_search="searxng", searxng_url=searxng.base_url)
    toolbox = Toolbox(settings, page_origins={Origin("http", "127.0.0.1", pages.port)})
    stands.openai.script_tool_calls([call("web_search", query="latest news")])
    stands.openai.script_tool_calls([call("read_page", url=f"{pages.base_url}/article")])
    stands.openai.reply_with(after_tools)
    async with running_bot(stands, agent=settings, toolbox=toolbox) as bot:
        assert isinstance(bot.toolbox.search, SearXNGSearch)
        await stands.discord.send_message(GENERAL_CHANNEL, "what's new?", mention_bot=True)
        answer = await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    assert ARTICLE_TEXT[:40] in answer["content"]
    assert SCRIPT_TEXT not in every_request(stands) and NAV_TEXT not in every_request(stands)
    search_results = next(iter(tool_results(stands.openai.requests[-2]).values()))
    assert "1. An article" in search_results and "<strong>" not in search_results


async def test_read_message_follows_a_link_and_what_it_replies_to(
    stands: Stands, bot: ChatBot
) -> None:
    asked = await stands.discord.send_message(THREAD, "Should we move the launch?", author=ALICE)
    answered = await stands.discord.send_message(THREAD, "Yes, to March.", author=BOB,
                                                 reply_to=int(asked["id"]))
    link = f"https://discord.com/channels/{GUILD_A}/{THREAD}/{answered['id']}"
    stands.openai.script_tool_calls([call("read_message", link=f"<{link}>")])
    stands.openai.reply_with(after_tools)
    await stands.discord.send_message(GENERAL_CHANNEL, f"what does {link} say?",
                                      mention_bot=True)
    answer = await answer_to(stands, GENERAL_CHANNEL, "From the tools")
    assert "Bob: Yes, to March." in answer["content"]
    assert "↳ in reply to" in answer["content"]
    assert "Alice: Should we move the launch?" in answer["content"]
