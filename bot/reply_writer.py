"""Putting a reply on Discord: one message, or several, edited as the model streams.

Streaming edits are paced to about one per second per message: discord.py would absorb
429s, but provoking them stalls every other reply in the channel. The text is re-split on
every push; since :func:`bot.splitting.split_message` is greedy from the start, parts that
are full never change again, so each push edits at most the part still growing (plus the
one that just filled up) and sends any new part.

Every part replies to the user's message, so after a restart any part of a reply can be
traced back to the prompt it answers (reactions on old replies rely on this).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

import discord

from bot.splitting import DISCORD_LIMIT, close_open_fence, split_message
from bot.uncancelled import uncancelled

NO_PINGS = discord.AllowedMentions.none()
CUT_OFF_MARKER = "⚠️ *The answer was cut off.*"
_LATE_SEND_WAIT = 10.0


class ReplyTarget(Protocol):
    async def send(self, content: str) -> discord.Message | discord.WebhookMessage: ...


class MessageTarget:
    """Replies to a user's message; still posts if the message was deleted meanwhile."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message

    async def send(self, content: str) -> discord.Message:
        return await self.message.channel.send(
            content,
            reference=self.message.to_reference(fail_if_not_exists=False),
            mention_author=False,
            allowed_mentions=NO_PINGS,
        )


class InteractionTarget:
    """Answers a deferred slash command through its followup webhook."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction

    async def send(self, content: str) -> discord.WebhookMessage:
        return await self.interaction.followup.send(content, wait=True, allowed_mentions=NO_PINGS)


class ReplyWriter:
    def __init__(
        self,
        target: ReplyTarget,
        *,
        edit_interval: float = 1.0,
        limit: int = DISCORD_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.edit_interval = edit_interval
        self.limit = limit
        self.clock = clock
        self.messages: list[discord.Message | discord.WebhookMessage] = []
        self.edits = 0
        self._shown: list[str] = []
        self._last_push = float("-inf")

    async def update(self, text: str) -> None:
        """Streaming progress: show the first words at once, then at most once per interval."""
        if self.messages and self.clock() - self._last_push < self.edit_interval:
            return
        await self._show(text, final=False)

    async def finish(self, text: str) -> None:
        await self._show(text, final=True)

    async def fail(self, partial: str, sentence: str) -> str:
        """End a failed reply: what was streamed stays, marked as cut off, then the apology.

        Returns the full text the user ends up seeing.
        """
        text = f"{close_open_fence(partial)}\n\n{CUT_OFF_MARKER} {sentence}" if partial else ""
        text = text or sentence
        await self._show(text, final=True)
        return text

    async def _send(self, part: str) -> None:
        """Post a new part. If the reply is cancelled meanwhile (its question was deleted),
        Discord may still create the message: wait for it and keep it, so the withdrawal
        that follows can delete it rather than leave an orphan."""
        sending = asyncio.ensure_future(self.target.send(part))
        try:
            message = await asyncio.shield(sending)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self.messages.append(await asyncio.wait_for(sending, _LATE_SEND_WAIT))
            raise
        self.messages.append(message)
        self._shown.append(part)

    async def _show(self, text: str, *, final: bool) -> None:
        parts = split_message(text, self.limit)
        if not final and parts:
            closed = close_open_fence(parts[-1])
            if len(closed) <= self.limit:
                parts[-1] = closed
        for index, part in enumerate(parts):
            if index == len(self.messages):
                await self._send(part)
            elif self._shown[index] != part:
                await uncancelled(
                    self.messages[index].edit(content=part, allowed_mentions=NO_PINGS)
                )
                self._shown[index] = part
                self.edits += 1
        self._last_push = self.clock()
