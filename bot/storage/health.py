"""Whether the database is answering, and the one warning when it stops.

When the database fails, callers fall back to defaults; this keeps that from costing every
reply a timeout (no new attempt for ``retry_seconds``) and the log from filling with the
same line: one warning when it goes down, one line when it is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

log = logging.getLogger("bot.storage")

# What a failing database raises: SQLAlchemy wraps driver errors; connecting can also end
# in a plain OSError (refused, unreachable) or our own bound's TimeoutError.
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


def describe(error: BaseException) -> str:
    """The driver's own error, without SQLAlchemy's statement and parameters (which can
    hold a persona's text)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


class Health:
    def __init__(self, retry_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.down = False
        self._retry_at = 0.0

    def worth_trying(self) -> bool:
        return not self.down or self.clock() >= self._retry_at

    def failed(self, error: BaseException, doing: str) -> None:
        self._retry_at = self.clock() + self.retry_seconds
        if self.down:
            log.debug("database still unavailable while %s: %s", doing, describe(error))
            return
        self.down = True
        log.warning(
            "database unavailable while %s (%s): using default settings and not enforcing "
            "budgets until it answers again",
            doing,
            describe(error),
        )

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            log.info("database answering again: settings and budgets apply")
