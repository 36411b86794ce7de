"""The tools the model may call. Their names and arguments are a contract (docs/agent.md).

Each tool checks its own arguments and acts for the person who asked: the Discord tools
read through a :class:`ChannelReader` built for that person in that place, which refuses
what they cannot read themselves; the web tools go through the search backend the operator
configured and the page reader's address guard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import yarl

from bot.agent.loop import ToolFailed, ToolRefused
from bot.agent.pages import PageReader, PageRefused
from bot.agent.search import SearchFailed
from bot.agent.search import WebSearch as SearchBackend
from bot.knowledge.desk import Lookup

STATUS_MAX_CHARS = 80
MAX_CHANNEL_MESSAGES = 50
DEFAULT_CHANNEL_MESSAGES = 20


class ChannelReader(Protocol):
    """Discord, as far as the asking person may read it. Raises
    :class:`bot.agent.loop.ToolRefused` for what they may not, with the reason."""

    async def read_channel(self, channel: str, limit: int, before: str | None) -> str: ...

    async def read_message(self, link: str) -> str: ...


def _text(arguments: Mapping[str, Any], name: str, *, limit: int = 2_000) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolFailed(f"{name!r} must be a non-empty string")
    if len(value) > limit:
        raise ToolFailed(f"{name!r} is longer than {limit} characters")
    return value.strip()


def _shown(text: str) -> str:
    """Model-written text fit for a one-line status: no line breaks, bounded."""
    line = " ".join(text.split())
    return line if len(line) <= STATUS_MAX_CHARS else line[: STATUS_MAX_CHARS - 1] + "…"


def _function(name: str, description: str, properties: dict[str, Any],
              required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


class ReadChannel:
    name = "read_channel"

    def __init__(self, reader: ChannelReader) -> None:
        self.reader = reader

    def schema(self) -> dict[str, Any]:
        return _function(
            self.name,
            "Read recent messages of a channel or thread of this Discord server, oldest "
            "first, with author, time and text. Only what the asking person can read.",
            {
                "channel": {
                    "type": "string",
                    "description": "A channel mention (<#id>), an id, a name (general or "
                    "#general), or 'here' for the current channel.",
                },
                "limit": {
                    "type": "integer", "minimum": 1, "maximum": MAX_CHANNEL_MESSAGES,
                    "description": f"How many messages (default {DEFAULT_CHANNEL_MESSAGES}).",
                },
                "before": {
                    "type": ["string", "null"],
                    "description": "Only messages before this message id or link.",
                },
            },
            ["channel"],
        )

    def status(self, arguments: Mapping[str, Any]) -> str:
        channel = _text(arguments, "channel", limit=200)
        if channel.lower() == "here":
            return "📖 reading this channel"
        shown = channel if channel.startswith(("<#", "#")) else f"#{channel}"
        return f"📖 reading {_shown(shown)}"

    async def run(self, arguments: Mapping[str, Any]) -> str:
        channel = _text(arguments, "channel", limit=200)
        limit = arguments.get("limit", DEFAULT_CHANNEL_MESSAGES)
        if limit is None:
            limit = DEFAULT_CHANNEL_MESSAGES
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ToolFailed("'limit' must be a whole number")
        before = arguments.get("before")
        if before is not None and not isinstance(before, str):
            raise ToolFailed("'before' must be a message id or link")
        bounded = min(max(limit, 1), MAX_CHANNEL_MESSAGES)
        return await self.reader.read_channel(channel, bounded, before or None)


class ReadMessage:
    name = "read_message"

    def __init__(self, reader: ChannelReader) -> None:
        self.reader = reader

    def schema(self) -> dict[str, Any]:
        return _function(
            self.name,
            "Read one Discord message by its link (https://discord.com/channels/<server>/"
            "<channel>/<message>), with the message it replies to.",
            {"link": {"type": "string", "description": "The message link."}},
            ["link"],
        )

    def status(self, arguments: Mapping[str, Any]) -> str:
        return "🔗 reading a linked message"

    async def run(self, arguments: Mapping[str, Any]) -> str:
        return await self.reader.read_message(_text(arguments, "link", limit=300))


class WebSearch:
    name = "web_search"

    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend

    def schema(self) -> dict[str, Any]:
        return _function(
            self.name,
            "Search the web. Returns titles, URLs and snippets; read a result with read_page.",
            {"query": {"type": "string", "description": "What to search for."}},
            ["query"],
        )

    def status(self, arguments: Mapping[str, Any]) -> str:
        return f"🔎 searching the web for “{_shown(_text(arguments, 'query', limit=400))}”"

    async def run(self, arguments: Mapping[str, Any]) -> str:
        query = _text(arguments, "query", limit=400)
        try:
            results = await self.backend.search(query)
        except SearchFailed as failure:
            raise ToolFailed(failure.reason) from failure
        if not results:
            return f"no results for {query!r}"
        return "\n".join(
            f"{rank}. {hit.title}\n   {hit.url}\n   {hit.snippet}"
            for rank, hit in enumerate(results, start=1)
        )


class SearchKnowledge:
    """This server's own documents and FAQ channels (``/knowledge``); in a DM, those of the
    servers the person shares with the bot that allow it. The scope is the question's
    :class:`~bot.knowledge.desk.Lookup`, fixed before the model is asked."""

    name = "search_knowledge"

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    def schema(self) -> dict[str, Any]:
        return _function(
            self.name,
            "Search this server's knowledge base (its documents and FAQ channels). Returns "
            "the best passages, each under its source's title; name the source you use.",
            {"query": {"type": "string", "description": "What to look for, in a few words."}},
            ["query"],
        )

    def status(self, arguments: Mapping[str, Any]) -> str:
        query = _shown(_text(arguments, "query", limit=400))
        return f"📚 searching the knowledge base for “{query}”"

    async def run(self, arguments: Mapping[str, Any]) -> str:
        return (await self.lookup.search(_text(arguments, "query", limit=400))).shown


class ReadPage:
    name = "read_page"

    def __init__(self, pages: PageReader) -> None:
        self.pages = pages

    def schema(self) -> dict[str, Any]:
        return _function(
            self.name,
            "Read the text of one public web page (http or https).",
            {"url": {"type": "string", "description": "The page's address."}},
            ["url"],
        )

    def status(self, arguments: Mapping[str, Any]) -> str:
        try:
            host = yarl.URL(_text(arguments, "url", limit=2_000)).host
        except ValueError:
            host = None
        return f"🌐 reading {_shown(host or 'a web page')}"

    async def run(self, arguments: Mapping[str, Any]) -> str:
        page = await self.pages.read(_text(arguments, "url", limit=2_000))
        if isinstance(page, PageRefused):
            raise ToolRefused(page.reason)
        cut = "\n[… the page goes on]" if page.truncated else ""
        return f"{page.url}\n\n{page.text}{cut}"
