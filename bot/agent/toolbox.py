"""The tools one question gets, built for the person who asked, where they asked.

The search backend and the page reader are the bot's (one HTTP session each, closed with
the bot); the Discord reader is made per question, because it acts for that person.
``read_channel`` and ``read_message`` are always offered while tools are on; ``web_search``
and ``read_page`` only when the operator configured a search backend (``WEB_SEARCH``);
``search_knowledge`` only when the question may search some server's knowledge.
"""

from __future__ import annotations

from collections.abc import Iterable

import discord

from bot.agent.config import AgentSettings
from bot.agent.loop import Tool
from bot.agent.pages import PageLimits, PageReader
from bot.agent.reader import DiscordReader
from bot.agent.search import BraveSearch, SearXNGSearch, WebSearch
from bot.agent.tools import ReadChannel, ReadMessage, ReadPage, SearchKnowledge
from bot.agent.tools import WebSearch as WebSearchTool
from bot.attachments.download import Origin
from bot.knowledge.desk import Lookup


def search_backend(settings: AgentSettings) -> WebSearch | None:
    if settings.web_search == "searxng" and settings.searxng_url is not None:
        return SearXNGSearch(settings.searxng_url)
    if settings.web_search == "brave" and settings.brave_api_key is not None:
        return BraveSearch(settings.brave_api_key)
    return None


class Toolbox:
    def __init__(
        self,
        settings: AgentSettings,
        *,
        search: WebSearch | None = None,
        page_origins: Iterable[Origin] = (),
    ) -> None:
        """``search`` and ``page_origins`` are for tests: a stand-in backend, and the one
        private origin (the test's page server) the address guard lets through."""
        self.settings = settings
        self.search = search or search_backend(settings)
        self.pages = PageReader(
            PageLimits(max_bytes=settings.page_max_bytes, timeout=settings.tool_timeout / 2),
            allowed_private=page_origins,
        )

    @property
    def looks_up(self) -> tuple[str, ...]:
        """What the bot can look up, for ``/help``."""
        web = ("the web", "web pages") if self.search is not None else ()
        return ("this server's channels and threads you can read", "message links",
                "this server's knowledge base, once admins add to it (`/knowledge add`)", *web)

    def tools_for(self, client: discord.Client, asker: discord.abc.User,
                  asked_in: discord.abc.Messageable, lookup: Lookup | None = None) -> list[Tool]:
        """``lookup``: the question's knowledge, when it may search any."""
        if not isinstance(asked_in, discord.abc.GuildChannel | discord.Thread | discord.DMChannel):
            return []  # a place the permission rules cannot judge gets no Discord tools
        reader = DiscordReader(client, asker, asked_in)
        tools: list[Tool] = [ReadChannel(reader), ReadMessage(reader)]
        if lookup is not None and lookup.scope.guild_ids:
            tools.append(SearchKnowledge(lookup))
        if self.search is not None:
            tools += [WebSearchTool(self.search), ReadPage(self.pages)]
        return tools

    async def close(self) -> None:
        await self.pages.close()
        if self.search is not None:
            await self.search.close()
