"""Shared fixtures: local stand-ins for the services the bot talks to."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.client import ChatBot
from tests.bot_harness import Stands, running_bot
from tests.helpers import configured_variables
from tests.standins.discord_server import DiscordStandIn
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn

pytest_plugins = ["tests.rest_guard"]


@pytest.fixture(autouse=True)
def no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings models read the process environment: a developer's own DISCORD_TOKEN or
    LOG_LEVEL must not change what a test sees."""
    for name in configured_variables() & os.environ.keys():
        monkeypatch.delenv(name)


@pytest_asyncio.fixture
async def openai_standin() -> AsyncIterator[OpenAIStandIn]:
    """A started OpenAI stand-in on 127.0.0.1; its ``base_url`` ends in ``/v1``."""
    async with OpenAIStandIn() as standin:
        yield standin


@pytest_asyncio.fixture
async def greenflash_standin() -> AsyncIterator[GreenflashStandIn]:
    """A started Greenflash stand-in on 127.0.0.1; its ``base_url`` ends in ``/api/v1``."""
    async with GreenflashStandIn() as standin:
        yield standin


@pytest_asyncio.fixture
async def stands(
    discord_standin: DiscordStandIn,
    openai_standin: OpenAIStandIn,
    greenflash_standin: GreenflashStandIn,
) -> Stands:
    return Stands(discord_standin, openai_standin, greenflash_standin)


@pytest_asyncio.fixture
async def bot(stands: Stands) -> AsyncIterator[ChatBot]:
    """The real bot with default test settings (``CHAT_CHANNEL`` is a chat channel)."""
    async with running_bot(stands) as running:
        yield running


@pytest_asyncio.fixture
async def discord_standin() -> AsyncIterator[DiscordStandIn]:
    """A started Discord stand-in (REST + gateway) on 127.0.0.1; use ``redirect()`` to point
    discord.py at it."""
    async with DiscordStandIn() as standin:
        yield standin
