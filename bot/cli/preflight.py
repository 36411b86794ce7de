"""Reaching the services at start-up, with a bound on every wait and a sentence per failure.

A worker dyno can boot before its network is ready, and a misconfigured one should say what
is wrong in one line an operator can act on, not in a 50-line aiohttp traceback after
aiohttp's five-minute default timeout. So before discord.py logs in, one bounded request
checks that Discord answers at all (retried with backoff while the failure is transient:
DNS, refused, timeout, 5xx, 429), and OpenAI and Greenflash are asked whether they answer
(a warning each if not: the bot still serves, and both clients retry on their own).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
import discord
import discord.http
import yarl
from pydantic import Field, SecretStr

from bot.config.base import EnvSettings
from bot.runtime.uncancelled import _retrieve

log = logging.getLogger(__name__)

T = TypeVar("T")

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
GREENFLASH_DEFAULT_URL = "https://www.greenflash.ai/api/v1"
_MAX_BACKOFF = 30.0


class StartupSettings(EnvSettings):
    """``STARTUP_TIMEOUT`` bounds each start-up request (and each ``doctor`` check);
    ``STARTUP_ATTEMPTS`` is how often an unreachable Discord is tried before giving up."""

    timeout: float = Field(default=10.0, ge=0.5, validation_alias="STARTUP_TIMEOUT")
    attempts: int = Field(default=5, ge=1, validation_alias="STARTUP_ATTEMPTS")


class Unreachable(Exception):
    """A service did not answer usefully; the message is the whole operator-facing line."""

    def __init__(self, service: str, url: str, reason: str) -> None:
        super().__init__(f"{service} ({host_of(url)}) unreachable: {reason}")


class _Transient(Exception):
    """Worth another try: the network or the service may come back by itself."""


def host_of(url: str) -> str:
    parsed = yarl.URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port not in (80, 443, None) else (
        parsed.host or url
    )


def reason(error: BaseException, timeout: float) -> str:
    """What went wrong, in words: never the request, so never a header or a token."""
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, socket.gaierror):
            return f"DNS lookup of {error.host} failed"
        if isinstance(error.os_error, ConnectionRefusedError):
            return "connection refused"
        return (error.os_error.strerror or str(error.os_error)).lower()
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    return type(error).__name__


async def _status(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    """One bounded GET; connection-level failures and 5xx/429 are transient."""
    try:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            status = response.status
    except (TimeoutError, aiohttp.ClientConnectionError, OSError) as error:
        raise _Transient(reason(error, session.timeout.total or 0)) from error
    if status >= 500 or status == 429:
        raise _Transient(f"HTTP {status}")
    return status


async def reach_discord(token: SecretStr, settings: StartupSettings) -> None:
    """Until Discord answers the token (``LoginFailure`` if it rejects it), retrying with
    backoff and a line per failed attempt; :class:`Unreachable` after the last attempt."""
    url = f"{discord.http.Route.BASE}/users/@me"
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(1, settings.attempts + 1):
            try:
                status = await _status(
                    session, url, {"Authorization": f"Bot {token.get_secret_value()}"}
                )
            except _Transient as error:
                if attempt == settings.attempts:
                    raise Unreachable(
                        "Discord", url, f"{error} (tried {attempt} times; check the network)"
                    ) from None
                delay = min(2.0 ** (attempt - 1), _MAX_BACKOFF)
                log.warning(
                    "Discord (%s) unreachable: %s; retrying in %g s (attempt %d of %d)",
                    host_of(url), error, delay, attempt, settings.attempts,
                )
                await asyncio.sleep(delay)
                continue
            if status == 401:
                raise discord.LoginFailure("Discord rejected DISCORD_TOKEN")
            if status >= 400:
                raise Unreachable("Discord", url, f"HTTP {status} to the login request")
            return


async def warn_if_unreachable(service: str, url: str, settings: StartupSettings) -> bool:
    """Any HTTP answer means the service is there; returns whether it was."""
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            await _status(session, url, {})
        except _Transient as error:
            log.warning("%s (%s) unreachable at start: %s; the bot runs and retries when used",
                        service, host_of(url), error)
            return False
    return True


async def finished_within(task: asyncio.Future[Any], seconds: float) -> bool:
    """Wait for ``task`` up to ``seconds`` without cancelling it: a discord.py REST call
    must never be cancelled mid-flight (see :mod:`bot.runtime.uncancelled`); the caller ends it by
    closing its client instead."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


def abandon(task: asyncio.Future[Any]) -> None:
    """Nobody will await ``task`` (its client is being closed); take its outcome when it
    ends so asyncio does not report it."""
    task.add_done_callback(_retrieve)


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns at every ``Client()`` that PyNaCl and davey (voice) are missing;
    this bot has no voice, so those two records are noise on every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in str(record.msg)


def quiet_voice_warnings() -> None:
    """On the ``discord.client`` logger itself, so it holds with or without our handlers."""
    logger = logging.getLogger("discord.client")
    if not any(isinstance(f, _NoVoiceWarnings) for f in logger.filters):
        logger.addFilter(_NoVoiceWarnings())


async def discord_within(call: Awaitable[T], seconds: float, what: str) -> T:
    """``call`` (discord.py REST work) or :class:`Unreachable` after ``seconds``; the caller
    closes the client in either case, which is what ends an abandoned request."""
    task = asyncio.ensure_future(call)
    if not await finished_within(task, seconds):
        abandon(task)
        raise Unreachable("Discord", discord.http.Route.BASE,
                          f"{what} did not finish within {seconds:g} s")
    return task.result()
