"""The typing indicator, shown only while someone is left waiting for the first words.

Each typing indicator is a REST request, and Discord allows a bot 50 requests a second in
all. An answer whose first words appear within half a second needs no indicator (it would
be gone before anyone read it), and once words are on screen the growing message says
enough. So the indicator starts only if nothing is visible after ``delay`` seconds, and
stops as soon as something is. It is optional traffic: while the bot is spending its
invalid-request budget (:mod:`bot.runtime.request_budget`), ``allowed()`` says no and no
indicator is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Self

import discord

from bot.runtime.uncancelled import uncancelled

log = logging.getLogger(__name__)

TYPING_DELAY = 0.5
TYPING_RENEW = 8.0


class TypingIndicator:
    """``async with TypingIndicator(channel) as typing: ... typing.stop()``; with
    ``channel=None`` (a slash command's deferral already shows "thinking") it does nothing."""

    def __init__(
        self,
        channel: discord.abc.Messageable | None,
        delay: float = TYPING_DELAY,
        *,
        allowed: Callable[[], bool] = lambda: True,
    ) -> None:
        self.channel = channel
        self.delay = delay
        self.allowed = allowed
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        if self.channel is not None:
            self._task = asyncio.create_task(self._show(self.channel))
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()
        if self._task is not None:
            await asyncio.wait([self._task])

    async def _show(self, channel: discord.abc.Messageable) -> None:
        await asyncio.sleep(self.delay)
        while True:  # until stop(); Discord shows each indicator for about 10 s
            if not self.allowed():
                log.debug("no typing indicator: saving Discord's invalid-request budget")
                return
            try:
                await uncancelled(channel.typing())  # awaiting it sends one indicator
            except discord.HTTPException as error:  # posting the reply will report why
                log.debug("no typing indicator: %s", error)
                return
            await asyncio.sleep(TYPING_RENEW)
