"""Shared fixtures: local stand-ins for the services the bot talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn


@pytest_asyncio.fixture
async def openai_standin() -> AsyncIterator[OpenAIStandIn]:
    """A started OpenAI stand-in on 127.0.0.1; its ``base_url`` ends in ``/v1``."""
    standin = OpenAIStandIn()
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@pytest_asyncio.fixture
async def greenflash_standin() -> AsyncIterator[GreenflashStandIn]:
    """A started Greenflash stand-in on 127.0.0.1; its ``base_url`` ends in ``/api/v1``."""
    standin = GreenflashStandIn()
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()
