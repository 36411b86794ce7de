"""What the bot asks of whatever produces its replies (the chat cog, ``cogs/chat.py``).

``bot/`` never imports ``cogs/``: it names the reply producer through this protocol, so the
dependency runs one way and the cog can be reloaded or replaced without the bot knowing
its class.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

import discord

from bot.conversation.exchange import Prompt
from bot.replies.writer import ReplyTarget


class Arrival(ReplyTarget, Protocol):
    """Where a prompt arrived (a message, a slash command) and how to answer there."""

    typing: bool
    channel: discord.abc.Messageable
    author: discord.abc.User
    """Who asked: the tools read only what this person can read."""

    async def acknowledge(self) -> None: ...

    async def refuse(self, text: str, *, for_seconds: float | None = None) -> None: ...


@runtime_checkable
class ReplyProducer(Protocol):
    async def answer(self, prompt: Prompt, arrival: Arrival, read: Awaitable[Prompt]) -> None:
        """Produce and post the reply to an accepted prompt; ``read`` gives the prompt with
        its attachments once they are downloaded."""

    async def drain(self, grace: float) -> None:
        """Shutdown: let replies in progress finish, in bound."""

    def reset(self, channel_id: int) -> None:
        """Forget the channel's conversation (``/reset``)."""
