"""Secrets never reach the log: in messages, their arguments, or traceback text."""

from __future__ import annotations

import io
import logging
import string
from collections.abc import Iterator

import discord.utils
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.config.base import read_settings
from bot.runtime.logs import LogSettings, RedactSecrets, setup_logging

SECRET = "sk-live-0123456789abcdef"


def logger_with(formatter: logging.Formatter, secrets: list[str]) -> tuple[logging.Logger,
                                                                           io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(secrets))
    logger = logging.Logger("redaction-test")
    logger.addHandler(handler)
    return logger, stream


# Heroku's log drain is not a terminal, so discord.py picks the plain formatter there; its
# colour formatter formats exc_info itself, so both are exercised.
FORMATTERS = [logging.Formatter("%(levelname)s %(message)s"), discord.utils._ColourFormatter()]


@pytest.mark.parametrize("formatter", FORMATTERS, ids=["plain", "colour"])
def test_a_secret_in_a_traceback_is_redacted(formatter: logging.Formatter) -> None:
    logger, stream = logger_with(formatter, [SECRET])
    try:
        raise RuntimeError(f"request to https://api.example/v1?key={SECRET} failed")
    except RuntimeError:
        logger.exception("call failed for %s", "someone")
    text = stream.getvalue()
    assert SECRET not in text
    assert "key=[redacted] failed" in text
    assert "Traceback (most recent call last)" in text
    assert "call failed for someone" in text


@pytest.mark.parametrize("formatter", FORMATTERS, ids=["plain", "colour"])
def test_a_secret_in_the_arguments_is_redacted(formatter: logging.Formatter) -> None:
    logger, stream = logger_with(formatter, [SECRET])
    logger.warning("token was %s", SECRET)
    assert stream.getvalue().strip().endswith("token was [redacted]")


def test_a_traceback_without_secrets_is_kept_as_the_formatter_makes_it() -> None:
    logger, stream = logger_with(FORMATTERS[0], [SECRET])
    try:
        raise ValueError("nothing secret")
    except ValueError:
        logger.exception("plain failure")
    assert stream.getvalue().startswith("ERROR plain failure\nTraceback")
    assert stream.getvalue().rstrip().endswith("ValueError: nothing secret")


TOKENISH = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=8,
                   max_size=40)


@given(secret=TOKENISH, before=st.text(max_size=50), after=st.text(max_size=50),
       in_traceback=st.booleans())
def test_no_configured_secret_survives(
    secret: str, before: str, after: str, in_traceback: bool
) -> None:
    logger, stream = logger_with(FORMATTERS[0], [secret])
    text = f"{before}{secret}{after}"
    if in_traceback:
        try:
            raise RuntimeError(text)
        except RuntimeError:
            logger.exception("failed")
    else:
        logger.error("%s", text)
    assert secret not in stream.getvalue()


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """setup_logging configures the process's loggers; put them back afterwards."""
    root = logging.getLogger()
    names = ["bot.llm", "bot.client", "httpx"]
    saved = (root.level, list(root.handlers), [logging.getLogger(n).level for n in names])
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, level in zip(names, saved[2], strict=True):
        logging.getLogger(name).setLevel(level)


def test_debug_loggers_talk_while_the_rest_keeps_log_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "Warning")
    monkeypatch.setenv("DEBUG_LOGGERS", "bot.llm, httpx")
    setup_logging([SecretStr(SECRET)], read_settings(LogSettings))
    logging.getLogger("bot.llm").debug("model round %s", SECRET)
    logging.getLogger("httpx").debug("request sent")
    logging.getLogger("bot.client").info("not shown: below LOG_LEVEL")
    logging.getLogger("bot.client").warning("shown")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[-2:][-1] for line in lines] == ["[redacted]", "sent", "shown"]
    assert ["bot.llm" in lines[0], "httpx" in lines[1], "bot.client" in lines[2]] == [True] * 3


def test_log_level_defaults_to_info() -> None:
    assert read_settings(LogSettings) == LogSettings(level="info", debug_loggers=())
