"""The bot's log: discord.py's handler on the root logger, quiet HTTP clients, no secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord


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


def setup_logging(secrets: Iterable[str]) -> None:
    discord.utils.setup_logging(level=logging.INFO, root=True)
    # The HTTP clients under the OpenAI and Greenflash SDKs log every request at INFO: two
    # or three lines per reply, noise on a log drain. Their warnings still show.
    for chatty in ("httpx", "httpx2"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
