"""Running the real bot (``ChatBot``) against the three stand-ins inside a test."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from bot.agent.config import AgentSettings
from bot.agent.toolbox import Toolbox
from bot.attachments.config import AttachmentSettings
from bot.attachments.download import Origin
from bot.client import ChatBot
from bot.config.products import ProductConfig
from bot.config.settings import Settings
from bot.knowledge.config import KnowledgeSettings
from bot.storage import StorageConfig
from cogs.knowledge_sync import KnowledgeSync
from tests.helpers import TEST_PRODUCT, greenflash_settings, make_settings
from tests.standins.discord_server import CHAT_CHANNEL, DiscordStandIn, fast_startup
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn


@dataclass
class Stands:
    discord: DiscordStandIn
    openai: OpenAIStandIn
    greenflash: GreenflashStandIn


def bot_settings(stands: Stands, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": stands.discord.token,
        "chat_channel_ids": frozenset({CHAT_CHANNEL}),
    }
    return make_settings(**(values | overrides))


def process_env(stands: Stands, **extra: str) -> dict[str, str]:
    """The whole environment of a child ``python -m bot`` (or benchmark process) pointed at
    the stand-ins; ``extra`` adds or overrides variables."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DISCORD_TOKEN": stands.discord.token,
        "OPENAI_API_KEY": "sk-subprocess-openai",
        "OPENAI_BASE_URL": stands.openai.base_url,
        "GREENFLASH_API_KEY": "gf-subprocess-key",
        "GREENFLASH_BASE_URL": stands.greenflash.base_url,
        "OPENAI_MAX_RETRIES": "0",
    }
    env.update(stands.discord.subprocess_env())
    env.update(extra)
    return env


def cdn_origin(stands: Stands) -> Origin:
    """The Discord stand-in's CDN route: the one place the bot under test may download
    attachments from (production allows only Discord's own CDN hosts)."""
    return Origin("http", "127.0.0.1", stands.discord.port)


@asynccontextmanager
async def running_bot(
    stands: Stands,
    settings: Settings | None = None,
    *,
    products: ProductConfig | None = None,
    storage: StorageConfig | None = None,
    attachments: AttachmentSettings | None = None,
    agent: AgentSettings | None = None,
    toolbox: Toolbox | None = None,
    knowledge: KnowledgeSettings | None = None,
    **greenflash_overrides: Any,
) -> AsyncIterator[ChatBot]:
    """Start the bot, wait until it is ready, yield it, close it (as SIGTERM would).
    Without ``storage`` the bot gets the embedded default, a fresh SQLite file in a
    temporary directory (never the checkout's ``data/``); ``toolbox`` brings the agent's
    search and page stand-ins."""
    settings = settings or bot_settings(stands)
    with (
        tempfile.TemporaryDirectory(prefix="bot-db-") as database_dir,
        stands.discord.redirect(),
        mock.patch.dict(os.environ, {"OPENAI_BASE_URL": stands.openai.base_url}),
    ):
        bot = ChatBot(
            settings,
            products=products or ProductConfig(default_product_id=TEST_PRODUCT),
            # In memory unless a test asks for the outbox: these tests assert what Greenflash
            # hears at a barrier; the outbox's delivery has its own tests (real processes on
            # SQLite and PostgreSQL, tests/storage/test_outbox_*.py).
            greenflash_settings=greenflash_settings(
                stands.greenflash.base_url, **({"outbox": False} | greenflash_overrides)),
            storage=storage or StorageConfig(
                database_path=os.path.join(database_dir, "bot.sqlite3"),
                model_allowlist=(settings.model,),
            ),
            attachments=attachments or AttachmentSettings(),
            agent=agent or AgentSettings(),
            knowledge=knowledge,
            attachment_origins={cdn_origin(stands)},
            toolbox=toolbox,
        )
        fast_startup(bot)
        runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
            # The knowledge channels' catch-up reads the database at start; a test that
            # then takes the database away must not race it.
            sync = bot.get_cog("KnowledgeSync")
            if isinstance(sync, KnowledgeSync):
                await asyncio.wait_for(sync.caught_up.wait(), timeout=10)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(runner, timeout=10)
