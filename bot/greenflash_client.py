"""The one Greenflash client: its settings, how it is built, how its errors are shown.

This is the only module that reads Greenflash settings from the environment or builds a
Greenflash client (integration plan, step 2). The calls that turn bot activity into
analytics are :class:`bot.analytics.calls.Analytics`, built on the client made here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import greenflash
import httpx

from bot.analytics.outage import never_sent
from bot.config.settings import EnvReader


@dataclass(frozen=True)
class GreenflashSettings:
    """``GREENFLASH_*`` variables. The key is kept out of ``repr``."""

    api_key: str | None
    base_url: str | None = None
    timeout: float = 5.0
    max_retries: int = 2
    max_in_flight: int = 8
    max_pending: int = 5_000
    drain_seconds: float = 10.0

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return (
            f"GreenflashSettings(api_key=<{key}>, base_url={self.base_url!r}, "
            f"timeout={self.timeout}, max_in_flight={self.max_in_flight})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GreenflashSettings:
        env = EnvReader(environ)
        settings = cls(
            api_key=env.secret("GREENFLASH_API_KEY", required=False) or None,
            base_url=env.text("GREENFLASH_BASE_URL", "") or None,
            timeout=env.number("GREENFLASH_TIMEOUT", cls.timeout, minimum=0.1),
            max_retries=env.integer("GREENFLASH_MAX_RETRIES", cls.max_retries),
            max_in_flight=env.integer("GREENFLASH_MAX_IN_FLIGHT", cls.max_in_flight, minimum=1),
            max_pending=env.integer("GREENFLASH_MAX_PENDING", cls.max_pending, minimum=1),
            drain_seconds=env.number("GREENFLASH_DRAIN_SECONDS", cls.drain_seconds),
        )
        env.raise_if_problems()
        return settings


def build_client(settings: GreenflashSettings) -> greenflash.AsyncGreenflash | None:
    """An ``AsyncGreenflash`` on the aiohttp transport, or ``None`` when there is no key.

    Build it inside the running event loop: the aiohttp session belongs to the loop that
    first uses it. The timeout is short because nobody waits for these calls.
    """
    if not settings.api_key:
        return None
    return greenflash.AsyncGreenflash(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 2.0)),
        max_retries=settings.max_retries,
        http_client=greenflash.DefaultAioHttpClient(),
    )


def describe(error: BaseException) -> str:
    """An error as a log line can show it: the class and status, never request headers."""
    status = getattr(error, "status_code", None)
    if status:
        return f"{type(error).__name__} (HTTP {status})"
    if isinstance(error, greenflash.APIConnectionError):
        outcome = "no connection" if never_sent(error) else "sent, no answer: outcome unknown"
        return f"{type(error).__name__} ({outcome})"
    return type(error).__name__
