"""Holding Greenflash calls through an outage instead of losing them.

The SDK retries a call that cannot connect a couple of times within seconds, then gives
up: in an outage longer than that, every call made meanwhile would be lost, and every
attempt would cost the event loop time that lands on users' replies. So the first call
that cannot connect (``greenflash.APIConnectionError``, timeouts included, once the SDK's
own retries are spent) marks Greenflash unreachable. From then on calls wait in line, and
the first in line tries again after a pause that doubles from 1 s to 8 s, until one gets
through; then the line moves on as usual. Held calls count against
``GREENFLASH_MAX_PENDING`` like any other, and those still held at shutdown are reported
with the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import greenflash

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE = 1.0
MAX_PAUSE = 8.0


class Reachability:
    def __init__(self) -> None:
        self._pause = FIRST_PAUSE
        self._retry_at = 0.0
        self._down_since: float | None = None
        self._line = asyncio.Lock()

    @property
    def down(self) -> bool:
        return self._down_since is not None

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``'s result, however long Greenflash stays unreachable; other
        errors propagate. Cancellation (shutdown) ends the wait."""
        loop = asyncio.get_running_loop()
        while True:
            if not self.down:
                with contextlib.suppress(greenflash.APIConnectionError):
                    return await self._attempt(attempt)
                continue
            async with self._line:
                if self.down:
                    await asyncio.sleep(max(0.0, self._retry_at - loop.time()))
                    with contextlib.suppress(greenflash.APIConnectionError):
                        return await self._attempt(attempt)

    async def _attempt(self, attempt: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await attempt()
        except greenflash.APIConnectionError as error:
            self._failed(error)
            raise
        if self._down_since is not None:
            down_for = asyncio.get_running_loop().time() - self._down_since
            log.info("greenflash reachable again after %.0fs; sending held calls", down_for)
            self._down_since, self._pause = None, FIRST_PAUSE
        return result

    def _failed(self, error: greenflash.APIConnectionError) -> None:
        now = asyncio.get_running_loop().time()
        if self._down_since is None:
            self._down_since, self._pause = now, FIRST_PAUSE
            log.warning("greenflash unreachable (%s); holding calls, trying again in %.0fs",
                        type(error).__name__, self._pause)
        elif now >= self._retry_at:  # a retry failed, not just another call of the first wave
            self._pause = min(self._pause * 2, MAX_PAUSE)
            log.info("greenflash still unreachable after %.0fs (%s)", now - self._down_since,
                     type(error).__name__)
        else:
            return
        self._retry_at = now + self._pause
