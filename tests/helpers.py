"""Factories shared by the tests: settings and analytics pointed at the stand-ins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from bot.greenflash_client import Analytics, GreenflashSettings, build_client
from bot.products import ProductConfig
from bot.settings import Settings

T = TypeVar("T")

TEST_PRODUCT = "prod-standin"
SYSTEM_PROMPT = "You are the test assistant."


def make_settings(**overrides: Any) -> Settings:
    """Test settings. Replies are not streamed unless a test asks, so a reply's content is
    final when it is created; tests/test_streaming.py covers the edits."""
    base = Settings(
        stream_replies=False,
        discord_token="unused",
        openai_api_key="sk-test-openai-key",
        system_prompt=SYSTEM_PROMPT,
        openai_timeout=5.0,
        openai_max_retries=0,
        cooldown_rate=100,
    )
    return replace(base, **overrides)


def greenflash_settings(base_url: str, **overrides: Any) -> GreenflashSettings:
    base = GreenflashSettings(
        api_key="gf-test-key", base_url=base_url, timeout=2.0, max_retries=2,
        drain_seconds=5.0,
    )
    return replace(base, **overrides)


def make_analytics(
    base_url: str, products: ProductConfig | None = None, **overrides: Any
) -> Analytics:
    """Must be called inside the running loop: the aiohttp transport binds to it."""
    settings = greenflash_settings(base_url, **overrides)
    return Analytics(
        build_client(settings),
        products or ProductConfig(default_product_id=TEST_PRODUCT),
        model="gpt-4o-mini",
        system_prompt=SYSTEM_PROMPT,
        settings=settings,
    )


def pings_nobody(allowed_mentions: dict[str, Any] | None) -> bool:
    """Discord pings no one for this ``allowed_mentions``: no parse, no ids, no replied user."""
    allowed = allowed_mentions or {}
    return (
        "allowed_mentions" not in allowed
        and allowed.get("parse") == []
        and not allowed.get("users")
        and not allowed.get("roles")
        and not allowed.get("replied_user", False)
    )


async def until(found: Callable[[], T | None], what: str, timeout: float = 5.0) -> T:
    """Poll ``found`` until it returns something truthy (the stand-ins record as they go)."""
    for _ in range(int(timeout / 0.01)):
        result = found()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
