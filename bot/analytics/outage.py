"""Holding Greenflash calls through an outage instead of losing them.

The SDK retries a call that cannot connect a couple of times within seconds, then gives
up: in an outage longer than that, every call made meanwhile would be lost, and every
attempt would cost the event loop time that lands on users' replies. So the first call
that cannot connect (once the SDK's own retries are spent) marks Greenflash unreachable.
From then on calls wait in line, and the first in line tries again after a pause that
doubles from 1 s to 8 s, until one gets through; then the line moves on as usual. Held
calls count against ``GREENFLASH_MAX_PENDING`` like any other, and those still held at
shutdown are reported with the rest.

Only a call that never reached Greenflash is held and sent again (:func:`never_sent`). A
call that was sent and got no answer in time (a slow Greenflash: latency above
``GREENFLASH_TIMEOUT``) or whose connection broke after it was written is *slow, not
down*: Greenflash may well have stored it, it is not held, other calls keep flowing
side by side, and the call counts as failed. Re-sending it would be harmless for the
calls Greenflash deduplicates (messages by ``externalMessageId``, events by ``insertId``,
users and organizations are upserts) but would store a rating twice (ratings have no
idempotency key), and waiting in a single-file line behind a server that answers late
would only pile calls up. Raise ``GREENFLASH_TIMEOUT`` for a Greenflash that is slow as a
rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import greenflash
import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE = 1.0
MAX_PAUSE = 8.0


class _Unsent(Exception):
    """The attempt never reached Greenflash; the caller holds it and tries again."""


def never_sent(error: greenflash.APIConnectionError) -> bool:
    """Whether the request cannot have reached Greenflash: no connection was made.

    The SDK's ``APITimeoutError`` cannot tell: the aiohttp transport maps every aiohttp
    connection error, a refused connection included, to ``httpx.ConnectTimeout``
    (``AIOHTTP_EXC_MAP`` in ``httpx_aiohttp/transport.py``), and the SDK turns that into
    ``APITimeoutError`` (``_base_client.py``). The aiohttp error it came from, down the
    ``__cause__`` chain, can: ``ClientConnectorError`` (refused, DNS, TLS) and
    ``ConnectionTimeoutError`` (no connection within the connect timeout) happen before
    anything is written; ``SocketTimeoutError`` (no answer in time),
    ``ServerDisconnectedError`` and resets happen after. Without aiohttp underneath,
    httpx's own ``ConnectError`` / ``ConnectTimeout`` are exact.
    """
    causes: list[BaseException] = []
    cause = error.__cause__
    while cause is not None and len(causes) < 8:
        causes.append(cause)
        cause = cause.__cause__
    if any(isinstance(cause, aiohttp.ClientError) for cause in causes):
        connect_failed = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
        return any(isinstance(cause, connect_failed) for cause in causes)
    return any(isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout) for cause in causes)


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
        errors, and a connection error after the request was sent, propagate.
        Cancellation (shutdown) ends the wait."""
        loop = asyncio.get_running_loop()
        while True:
            if not self.down:
                with contextlib.suppress(_Unsent):
                    return await self._attempt(attempt)
                continue
            async with self._line:
                if self.down:
                    await asyncio.sleep(max(0.0, self._retry_at - loop.time()))
                    with contextlib.suppress(_Unsent):
                        return await self._attempt(attempt)

    async def _attempt(self, attempt: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await attempt()
        except greenflash.APIConnectionError as error:
            if not self.connection_failed(error):
                raise _Unsent from error
            raise
        self.reached("reachable again")
        return result

    def connection_failed(self, error: greenflash.APIConnectionError) -> bool:
        """Note what a failed call says of Greenflash; True if the request may have
        arrived (it took the connection, so it is up, only slow), False if it never did."""
        if never_sent(error):
            self.failed(error)
            return False
        self.reached("reachable again, but slow,")
        return True

    def reached(self, how: str = "reachable again") -> None:
        """A call got through: Greenflash is up, the line moves on."""
        if self._down_since is not None:
            down_for = asyncio.get_running_loop().time() - self._down_since
            log.info("greenflash %s after %.0fs; sending held calls", how, down_for)
            self._down_since, self._pause = None, FIRST_PAUSE

    async def wait_turn(self) -> None:
        """While Greenflash is unreachable, until the next attempt is due (the outbox's
        sender tries one call then, as the first in line does here)."""
        if self.down:
            await asyncio.sleep(max(0.0, self._retry_at - asyncio.get_running_loop().time()))

    def failed(self, error: greenflash.APIConnectionError) -> None:
        """A call could not connect: Greenflash is unreachable until one gets through."""
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
