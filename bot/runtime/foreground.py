"""Users' replies before background work, on one event loop.

asyncio has no task priorities. A Greenflash call costs the loop a millisecond or two of
CPU (building the request, reading the answer), and if it runs while a reply is being
produced, that time is added to the reply. So the chat cog marks each reply as
foreground work, and analytics calls wait for a moment when no reply is in progress
before they start: for at most ``limit`` seconds, so that a bot that is never idle still
sends its analytics, only later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

DEFER_LIMIT = 2.0


class Foreground:
    def __init__(self, limit: float = DEFER_LIMIT) -> None:
        self.limit = limit
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def busy(self) -> int:
        """Replies in progress."""
        return self._busy

    @contextlib.contextmanager
    def reply(self) -> Iterator[None]:
        """Mark a reply in progress for as long as the block runs."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def idle(self) -> None:
        """Return when no reply is in progress, or after ``limit`` seconds."""
        if self._idle.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.limit):
                await self._idle.wait()
