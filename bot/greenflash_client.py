"""The one Greenflash client: its settings, how it is built, how its errors are shown.

This is the only module that reads Greenflash settings from the environment or builds a
Greenflash client (integration plan, step 2). The calls that turn bot activity into
analytics are :class:`bot.analytics.calls.Analytics`, built on the client made here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import greenflash
import httpx
from pydantic import Field, SecretStr, field_validator

from bot.analytics.outage import never_sent
from bot.config.base import EnvSettings, one_of

INSIGHTS_MODES = ("simple", "insights")


class GreenflashSettings(EnvSettings):
    """``GREENFLASH_*`` variables. The key is a ``SecretStr``: no repr or log shows it."""

    api_key: SecretStr | None = Field(default=None, validation_alias="GREENFLASH_API_KEY")
    base_url: str | None = Field(default=None, validation_alias="GREENFLASH_BASE_URL")
    timeout: float = Field(default=5.0, ge=0.1, validation_alias="GREENFLASH_TIMEOUT")
    max_retries: int = Field(default=2, ge=0, validation_alias="GREENFLASH_MAX_RETRIES")
    max_in_flight: int = Field(default=8, ge=1, validation_alias="GREENFLASH_MAX_IN_FLIGHT")
    max_pending: int = Field(default=5_000, ge=1, validation_alias="GREENFLASH_MAX_PENDING")
    drain_seconds: float = Field(default=10.0, ge=0.0, validation_alias="GREENFLASH_DRAIN_SECONDS")
    # What the admins' commands read back (bot/analytics/insights.py): "insights" adds
    # topics, keywords and the summary, a mode Greenflash rate-limits per plan.
    insights_mode: Literal["simple", "insights"] = Field(
        default="simple", validation_alias="GREENFLASH_INSIGHTS_MODE")
    insights_cache_seconds: float = Field(
        default=600.0, ge=0.0, validation_alias="GREENFLASH_INSIGHTS_CACHE_SECONDS")
    insights_timeout: float = Field(
        default=10.0, ge=0.5, le=60.0, validation_alias="GREENFLASH_INSIGHTS_TIMEOUT")
    digest_hour: int = Field(default=9, ge=0, le=23, validation_alias="GREENFLASH_DIGEST_HOUR")

    @field_validator("insights_mode", mode="before")
    @classmethod
    def _insights_mode(cls, raw: Any) -> Any:
        return one_of(raw, INSIGHTS_MODES)

    @property
    def digest_time(self) -> dt.time:
        """When the daily review digest is posted: on the hour, UTC."""
        return dt.time(self.digest_hour, tzinfo=dt.UTC)
    # The durable outbox (bot/analytics/outbox.py): on unless GREENFLASH_OUTBOX=off.
    outbox: bool = Field(default=True, validation_alias="GREENFLASH_OUTBOX")
    outbox_max_rows: int = Field(
        default=100_000, ge=1, validation_alias="GREENFLASH_OUTBOX_MAX_ROWS"
    )
    outbox_max_age_hours: float = Field(
        default=168.0, gt=0.0, validation_alias="GREENFLASH_OUTBOX_MAX_AGE_HOURS"
    )


def build_client(settings: GreenflashSettings) -> greenflash.AsyncGreenflash | None:
    """An ``AsyncGreenflash`` on the aiohttp transport, or ``None`` when there is no key.

    Build it inside the running event loop: the aiohttp session belongs to the loop that
    first uses it. The timeout is short because nobody waits for these calls.
    """
    if settings.api_key is None:
        return None
    return greenflash.AsyncGreenflash(
        api_key=settings.api_key.get_secret_value(),
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
