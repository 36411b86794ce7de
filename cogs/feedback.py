"""👍/👎 reactions on the bot's replies become Greenflash ratings of that exact reply.

Scale: -1..1. 👍 is 1, 👎 is -1, and removing either is 0 (the person withdrew their
verdict; Greenflash keeps the history, so the latest rating shows the current view). The
rating names the reply's first Discord message, the id the assistant message was logged
with, whichever part of a split reply was reacted to.

Raw reaction events are used because the message cache forgets replies (and is empty after
a restart); a reply not sent by this process is traced through Discord itself.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.notices import is_notice
from cogs.chat import reply_anchor

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

RATINGS = {"👍": 1.0, "👎": -1.0}
WITHDRAWN = 0.0
_PARTS_SCANNED = 10


class Feedback(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        rating = RATINGS.get(str(payload.emoji))
        reacted_at = discord.utils.utcnow()
        if rating is not None and await self._counts(payload):
            await self._rate(payload, rating, None, reacted_at)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        reacted_at = discord.utils.utcnow()
        if str(payload.emoji) in RATINGS and await self._counts(payload):
            await self._rate(payload, WITHDRAWN, "reaction removed", reacted_at)

    async def _counts(self, payload: discord.RawReactionActionEvent) -> bool:
        """Only people's reactions on the bot's own messages, where the bot is enabled."""
        me = self.bot.user
        if me is None or payload.user_id == me.id:
            return False
        if payload.message_author_id is not None and payload.message_author_id != me.id:
            return False
        if not self.bot.settings.guild_allowed(payload.guild_id):
            return False
        if payload.member is not None:
            return not payload.member.bot
        user = self.bot.get_user(payload.user_id)
        if user is None:
            try:
                user = await self.bot.fetch_user(payload.user_id)
            except discord.HTTPException:
                return False
        return not user.bot

    async def _rate(
        self,
        payload: discord.RawReactionActionEvent,
        rating: float,
        feedback: str | None,
        reacted_at: datetime,
    ) -> None:
        reply_id = self.bot.chat.first_part(payload.message_id)
        if reply_id is None:
            reply_id = await self._trace_reply(payload.channel_id, payload.message_id)
        if reply_id is None:
            return
        analytics = self.bot.analytics
        analytics.keep(
            asyncio.create_task(
                analytics.rate(
                    guild_id=payload.guild_id,
                    conversation_id=payload.channel_id,
                    message_id=reply_id,
                    rating=rating,
                    rating_min=-1,
                    rating_max=1,
                    rated_at=reacted_at,
                    feedback=feedback,
                )
            )
        )

    async def _trace_reply(self, channel_id: int, message_id: int) -> int | None:
        """The first part of the reply ``message_id`` belongs to, asked of Discord; ``None``
        for anything that is not a model reply (notices, other people's messages)."""
        me = self.bot.user
        channel = self.bot.get_partial_messageable(channel_id)
        try:
            message = await channel.fetch_message(message_id)
            anchor = reply_anchor(message)
            if me is None or message.author.id != me.id or anchor is None:
                return None
            if is_notice(message.content):
                return None
            first = message.id
            parts = channel.history(
                after=discord.Object(anchor),
                before=message,
                limit=_PARTS_SCANNED,
                oldest_first=True,
            )
            async for earlier in parts:
                if earlier.author.id == me.id and reply_anchor(earlier) == anchor:
                    first = min(first, earlier.id)
            return first
        except discord.HTTPException as error:
            log.info("could not trace reaction on %s in %s: %s", message_id, channel_id, error)
            return None


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Feedback(bot))
