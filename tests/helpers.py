"""What the tests share: settings and analytics pointed at the stand-ins, and waiting."""

from __future__ import annotations

import asyncio
import hashlib
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pydantic import SecretStr

from bot.analytics.calls import Analytics
from bot.config.base import EnvSettings
from bot.config.environment import Configuration
from bot.config.products import ProductConfig
from bot.config.settings import Settings
from bot.greenflash_client import GreenflashSettings, build_client
from bot.llm import ChatModel
from tests.standins.discord_ratelimits import LONGEST_RESET
from tests.standins.discord_server import BOB, GENERAL_CHANNEL, DiscordStandIn
from tests.standins.openai_server import OpenAIStandIn

if TYPE_CHECKING:
    from bot.client import ChatBot

T = TypeVar("T")
E = TypeVar("E", bound=EnvSettings)

TEST_PRODUCT = "prod-standin"
SYSTEM_PROMPT = "You are the test assistant."
DEFAULT_PROMPT_OBJECT = {
    "externalPromptId": "default:" + hashlib.sha256(SYSTEM_PROMPT.encode()).hexdigest()[:12],
    "components": [{"type": "system", "name": "system_prompt", "content": SYSTEM_PROMPT}],
}
"""The ``systemPrompt`` Greenflash gets where no persona applies: the operator's prompt as a
prompt of its own."""


def model_for(
    standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> ChatModel:
    """A :class:`ChatModel` built as the bot builds it (the base URL from OPENAI_BASE_URL)."""
    monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
    return ChatModel(make_settings(**overrides))


def make_settings(**overrides: Any) -> Settings:
    """Test settings. Replies are not streamed unless a test asks, so a reply's content is
    final when it is created; tests/replies/test_streaming.py covers the edits."""
    base: dict[str, Any] = {
        "stream_replies": False,
        "discord_token": SecretStr("unused"),
        "openai_api_key": SecretStr("sk-test-openai-key"),
        "system_prompt": SYSTEM_PROMPT,
        "openai_timeout": 5.0,
        "openai_max_retries": 0,
        "cooldown_rate": 100,
    }
    return Settings(**(base | overrides))


def greenflash_settings(base_url: str, **overrides: Any) -> GreenflashSettings:
    base: dict[str, Any] = {
        "api_key": SecretStr("gf-test-key"), "base_url": base_url, "timeout": 2.0,
        "max_retries": 2, "drain_seconds": 5.0,
    }
    return GreenflashSettings(**(base | overrides))


SETTINGS_MODELS: tuple[type[EnvSettings], ...] = tuple(
    model for model in typing.get_type_hints(Configuration).values()
    if isinstance(model, type) and issubclass(model, EnvSettings)
)
"""Every settings model :func:`bot.config.environment.load_configuration` reads, taken from
its result's fields, so a model added there is held to the docs without anyone listing it."""


def configured_variables() -> set[str]:
    return {name for model in SETTINGS_MODELS for name in model.variables().values()}


def with_values(settings: E, **overrides: Any) -> E:
    """``settings`` with ``overrides``, validated again: what ``dataclasses.replace`` was for
    the settings models (``model_copy`` would not validate)."""
    return type(settings)(**(settings.model_dump() | overrides))


def use_environment(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    """Exactly ``environ`` among the configured variables (the autouse fixture in
    ``tests/conftest.py`` has already removed the rest)."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


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


POLL_INTERVAL = 0.01

Changed = Callable[[], asyncio.Event]
"""A stand-in's change signal: returns an event set at its next recorded change (such as
:meth:`tests.standins.discord_server.DiscordStandIn.next_change`)."""


async def until(
    found: Callable[[], T | None],
    what: str,
    timeout: float = 5.0,
    *,
    changed: Changed | None = None,
) -> T:
    """Until ``found()`` returns something truthy, which is returned; ``TimeoutError``
    naming ``what`` after ``timeout`` seconds.

    With ``changed``, ``found`` is re-evaluated only when that stand-in records a change, so
    ``found`` must depend on nothing else; without it, every ``POLL_INTERVAL`` seconds. The
    signal is taken before ``found`` runs, so a change in between is never missed.
    """
    try:
        async with asyncio.timeout(timeout):
            while True:
                signal = changed() if changed is not None else None
                if result := found():
                    return result
                if signal is None:
                    await asyncio.sleep(POLL_INTERVAL)
                else:
                    await signal.wait()
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


def answers_to(
    discord: DiscordStandIn, message_id: str, *, deleted: bool = False
) -> list[dict[str, Any]]:
    """The bot's messages replying to ``message_id`` (live ones, or also deleted ones)."""
    return [message for message in discord.sent_messages(include_deleted=deleted)
            if (message.get("message_reference") or {}).get("message_id") == message_id]


async def barrier(
    discord: DiscordStandIn, bot: ChatBot, channel_id: int = GENERAL_CHANNEL,
    text: str = "barrier",
) -> dict[str, Any]:
    """Bob mentions ``bot`` in ``channel_id``; returns that message once the bot answered it
    and has no reply left in progress.

    This is the deadline of a negative assertion ("nothing answered that"): discord.py
    handles one connection's events in order, and the bot marks a reply in progress before
    it handles the next event, so an earlier message that was going to be answered has
    been once this later one is answered and no reply is in progress. Tests then assert on
    the earlier one, and on counts that include this one (one more model call, two more
    Greenflash messages).
    """
    sent = await discord.send_message(channel_id, text, author=BOB, mention_bot=True)
    await until(lambda: answers_to(discord, sent["id"]), f"the answer to the barrier {text!r}",
                changed=discord.next_change)
    await while_progressing(lambda: bot.foreground.busy == 0, "the replies in progress to end",
                            changed=discord.next_change)
    return sent


async def while_progressing(
    found: Callable[[], T | None], what: str, *, changed: Changed
) -> T:
    """Until ``found()`` returns something truthy, polled; ``TimeoutError`` once the stand-in
    recorded no change for twice the longest rate-limit reset.

    For work whose length depends on the machine (a long reply posted part by part at
    Discord's pace, on a machine shared by parallel test workers): while the bot still
    makes requests it is progressing, however long that takes; a stuck reply makes none."""
    stall = 2 * LONGEST_RESET
    loop = asyncio.get_running_loop()
    signal, last = changed(), loop.time()
    while not (result := found()):
        if signal.is_set():
            signal, last = changed(), loop.time()
        elif loop.time() - last > stall:
            raise TimeoutError(f"no progress for {stall}s while waiting for {what}")
        await asyncio.sleep(POLL_INTERVAL)
    return result
