"""The bot's log: discord.py's handler on the root logger, quiet HTTP clients, no secrets.

``LOG_LEVEL`` sets the whole log; ``DEBUG_LOGGERS`` turns single loggers up to DEBUG
without drowning the rest (python-discord's ``BOT_TRACE_LOGGERS`` idea), so a bot that has
gone silent can be made to talk about one thing: ``DEBUG_LOGGERS=bot.llm,discord.gateway``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import discord
from pydantic import Field, SecretStr, field_validator

from bot.config.base import EnvSettings, comma_separated, invalid, one_of

LEVELS = ("debug", "info", "warning", "error", "critical")
CHATTY = ("httpx", "httpx2")
"""The HTTP clients under the OpenAI and Greenflash SDKs log every request at INFO: two or
three lines per reply, noise on a log drain. Their warnings still show."""


class LogSettings(EnvSettings):
    level: str = Field(default="info", validation_alias="LOG_LEVEL")
    debug_loggers: tuple[str, ...] = Field(default=(), validation_alias="DEBUG_LOGGERS")

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, raw: Any) -> Any:
        return one_of(raw, LEVELS)

    @field_validator("debug_loggers", mode="before")
    @classmethod
    def _loggers(cls, raw: Any) -> Any:
        """Logger names are dotted words; anything else is a typo that would silently
        turn up a logger nobody uses."""
        if not isinstance(raw, str):
            return raw
        names = comma_separated(raw)
        if bad := [name for name in names
                   if not all(part.isidentifier() for part in name.split("."))]:
            raise invalid(f"must be comma-separated logger names like bot.llm (got {bad[0]!r})")
        return names


class RedactSecrets(logging.Filter):
    """Last line of defence: no log record may carry a configured secret, in its message or
    in its traceback (an exception's text can quote a URL, a header or a request body)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if len(secret) >= 8]

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        extras = [text for text in (record.exc_text, record.stack_info) if text]
        if not any(secret in text for text in [message, *extras] for secret in self.secrets):
            return True
        # Formatters differ in whether they reuse exc_text (discord.py's colour formatter
        # formats exc_info again), so the redacted traceback becomes part of the message.
        record.msg = self._redact("\n".join([message, *extras]))
        record.args = record.exc_info = record.exc_text = record.stack_info = None
        return True


def setup_logging(secrets: Iterable[SecretStr], settings: LogSettings) -> None:
    """The root handler passes every level, so a logger's own level decides alone: the
    ``DEBUG_LOGGERS`` come last and can turn even the quieted HTTP clients up."""
    level = logging.getLevelNamesMapping()[settings.level.upper()]
    discord.utils.setup_logging(level=level, root=True)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    for name in settings.debug_loggers:
        logging.getLogger(name).setLevel(logging.DEBUG)
    redact = RedactSecrets(secret.get_secret_value() for secret in secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
