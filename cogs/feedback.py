"""👍/👎 reactions on the bot's replies become Greenflash ratings of that exact reply.

Each reaction change sends the reply's current verdict, (up - down) / (up + down) on a
-1..1 scale, 0 when nobody has reacted (:mod:`bot.analytics.verdicts` has the formula and what it
counts), with the counts as the rating's feedback text ("2 👍 1 👎"). The rating names the
reply's first Discord message, the id the assistant message was logged with, whichever
part of a split reply was reacted to.

What a reaction costs in Discord REST calls:

* not 👍/👎: none;
* on a reply this process sent: none. Its tally follows the raw gateway events from the
  moment it was sent: adds in guilds carry the ``member`` (so bots are told apart); in a
  DM only the person and the bot can react; removes carry no member, but someone the
  tally does not hold never counted;
* on any other message: one ``fetch_message``; for a bot reply from before a restart one
  ``history`` read more, to find its other parts and their counts. Either way the message
  is then remembered (a bounded memory), so later reactions on it are free.

Raw events are used because the message cache forgets replies (and is empty after a
restart). Events are handled one at a time, in arrival order, so tallies and ``rated_at``
stay in step. The one inexact moment is a trace: a reaction changed on Discord while it is
being asked may already be in the counts it answers, and is then counted again (or, for a
removal, twice taken off, never below 0). A rating is sent at most once (:meth:`Analytics.rate`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.analytics.verdicts import RATED, Recent, Tally
from bot.conversation.history import reply_anchor
from bot.conversation.notices import is_notice
from bot.runtime.uncancelled import uncancelled

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

_PARTS_SCANNED = 10
_REMEMBERED = 20_000
_NOT_A_REPLY = 0


class Feedback(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self._tallies: Recent[int, Tally] = Recent(_REMEMBERED)  # by the reply's first part
        self._first_parts: Recent[int, int] = Recent(_REMEMBERED)  # traced message → first
        self._forgotten_up_to = 0  # the newest reply whose tally was pushed out
        self._in_order = asyncio.Lock()

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._changed(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._changed(payload, added=False)

    async def _changed(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        emoji = str(payload.emoji)
        reacted_at = discord.utils.utcnow()
        if emoji not in RATED or not self._by_a_person(payload):
            return
        me = self.bot.user
        assert me is not None  # checked by _by_a_person
        if payload.message_author_id not in (None, me.id):
            self._first_parts.put(payload.message_id, _NOT_A_REPLY)
            return
        async with self._in_order:
            found = await self._tally(payload.channel_id, payload.message_id)
            if found is None:
                return
            reply_id, tally, counted = found
            change = tally.add if added else tally.remove
            if not counted and not change(emoji, payload.user_id, payload.message_id):
                return  # a bot's removal, or a repeat: the verdict stands
            rating, summary = tally.rating, tally.summary()
        self.bot.analytics.rating(
            guild_id=payload.guild_id,
            conversation_id=payload.channel_id,
            message_id=reply_id,
            rating=rating,
            rating_min=-1,
            rating_max=1,
            rated_at=reacted_at,
            feedback=summary,
        )

    def _by_a_person(self, payload: discord.RawReactionActionEvent) -> bool:
        """Not the bot, not a bot Discord or the cache says is one, where the bot is on."""
        me = self.bot.user
        if me is None or payload.user_id == me.id:
            return False
        if not self.bot.settings.guild_allowed(payload.guild_id):
            return False
        user = payload.member or self.bot.get_user(payload.user_id)
        return user is None or not user.bot

    async def _tally(self, channel_id: int, message_id: int) -> tuple[int, Tally, bool] | None:
        """The reply ``message_id`` is part of, its tally, and whether that tally already
        counts this change (it was just read from Discord); ``None`` when it is no reply."""
        first = self.bot.reply_index.first_part(message_id)
        if first is not None and first > self._forgotten_up_to:
            tally = self._tallies.get(first)
            if tally is None:
                tally = self._keep(first, Tally())
            return first, tally, False
        first = self._first_parts.get(message_id)
        if first == _NOT_A_REPLY:
            return None
        if first is not None and (tally := self._tallies.get(first)) is not None:
            return first, tally, False
        traced = await uncancelled(self._trace(channel_id, message_id))
        if traced is None:
            self._first_parts.put(message_id, _NOT_A_REPLY)
            return None
        parts, tally = traced
        for part in parts:
            self._first_parts.put(part, parts[0])
        return parts[0], self._keep(parts[0], tally), True

    def _keep(self, reply_id: int, tally: Tally) -> Tally:
        for forgotten in self._tallies.put(reply_id, tally):
            self._forgotten_up_to = max(self._forgotten_up_to, forgotten)
        return tally

    async def _trace(self, channel_id: int, message_id: int) -> tuple[list[int], Tally] | None:
        """The parts (oldest first) of the reply ``message_id`` belongs to and a tally of
        their reactions now, asked of Discord; ``None`` for anything that is not a model
        reply (notices, other people's messages)."""
        me = self.bot.user
        channel = self.bot.get_partial_messageable(channel_id)
        try:
            message = await channel.fetch_message(message_id)
            anchor = reply_anchor(message)
            if me is None or message.author.id != me.id or anchor is None:
                return None
            if is_notice(message.content):
                return None
            parts = {message.id: message}
            async for other in channel.history(
                after=discord.Object(anchor), limit=_PARTS_SCANNED, oldest_first=True
            ):
                if other.author.id == me.id and reply_anchor(other) == anchor:
                    parts.setdefault(other.id, other)
        except discord.HTTPException as error:
            log.info("could not trace reaction on %s in %s: %s", message_id, channel_id, error)
            return None
        tally = Tally()
        for part in parts.values():
            for reaction in part.reactions:
                emoji = str(reaction.emoji)
                if emoji in RATED:
                    people = reaction.count - (1 if reaction.me else 0)
                    tally.seeded[emoji] = tally.seeded.get(emoji, 0) + people
        return sorted(parts), tally


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Feedback(bot))
