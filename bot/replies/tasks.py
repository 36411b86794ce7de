"""The replies in progress, one task each, so each can be stopped on its own.

A user deleting their question cancels just that reply; shutdown waits for the replies in
progress with a bound, then withdraws the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from bot.runtime.foreground import Foreground
from bot.runtime.uncancelled import cancel_and_wait

log = logging.getLogger(__name__)


class ReplyTasks:
    def __init__(self, foreground: Foreground) -> None:
        self.foreground = foreground
        self._replies: dict[int, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._replies)

    async def run(self, prompt_id: int, channel_id: int, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as the reply to ``prompt_id`` until it ends, counted as foreground
        work (analytics wait for it); a failure is logged, never raised to the caller."""
        task = asyncio.create_task(work)
        self._replies[prompt_id] = task
        try:
            with self.foreground.reply():
                await asyncio.wait([task])
        finally:
            self._replies.pop(prompt_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("reply to %s in channel %s failed", prompt_id, channel_id,
                      exc_info=task.exception())

    def cancel(self, prompt_id: int) -> bool:
        """Stop the reply to ``prompt_id``; whether there was one."""
        task = self._replies.get(prompt_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def drain(self, grace: float) -> None:
        """Let replies in progress finish for ``grace`` seconds, then cancel the rest; each
        withdraws what it had streamed (its REST calls are never cancelled), for at most
        another half of ``grace``, so shutdown ends in bound."""
        if not self._replies:
            return
        log.info("waiting up to %.0fs for %d reply(ies)", grace, len(self._replies))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Loop: a slash command acknowledged just before shutdown may add a reply meanwhile.
        while self._replies and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._replies.values()), timeout=remaining)
        if not self._replies:
            return
        log.warning("shutdown grace over; withdrawing %d unfinished reply(ies)",
                    len(self._replies))
        left = await cancel_and_wait(set(self._replies.values()), grace / 2)
        if left:
            log.warning("%d reply(ies) still withdrawing at shutdown; leaving them", len(left))
