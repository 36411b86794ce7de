"""Channel sources kept in step with Discord.

Live: a new, edited or deleted message in a source channel, or in a thread under it (a
forum's posts are threads), updates the index as it happens. The raw events are used, so
an edit or a delete of a message discord.py no longer caches still counts.

On start, once the bot is ready, one background task catches up what changed while it was
down, one channel at a time: the newest :data:`CATCH_UP_MESSAGES` messages of each source
channel (for a forum, of each of its active posts, :data:`CATCH_UP_POSTS` at most) are read
again, so new messages are added and edited ones re-indexed; in a text channel, messages
indexed in that range and no longer there are removed (a forum's deletions count live only);
older history stays as indexed. The same catch-up reads a
channel when an admin adds it. It never delays a reply: it runs in its own task, its REST
calls are never cancelled (:func:`bot.runtime.uncancelled.uncancelled`), and a failure is a
log line.

Which channels are sources is kept in memory (loaded at start, refreshed by the commands),
so a message in any other channel costs no database read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.knowledge.refused import SourceRefused
from bot.runtime.uncancelled import uncancelled
from bot.storage import StorageUnavailable

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

CATCH_UP_MESSAGES = 200
CATCH_UP_POSTS = 25
READ_SECONDS = 30.0


async def _recent(channel: discord.TextChannel | discord.Thread) -> list[discord.Message]:
    return [message async for message in channel.history(limit=CATCH_UP_MESSAGES)]


class KnowledgeSync(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self.store = bot.knowledge.store
        self.sources: dict[int, int] = {}
        """Source channel id → guild id, for the guilds this process serves."""
        self.pending: asyncio.Queue[int] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()
        """Set once every source channel was caught up after the start."""

    async def cog_load(self) -> None:
        self.worker = asyncio.create_task(self._work(), name="knowledge-catch-up")

    async def cog_unload(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker

    async def refresh(self) -> None:
        """Reload which channels are sources (after a command changed them)."""
        try:
            channels = await self.store.channel_sources()
        except StorageUnavailable as error:
            log.warning("could not read the knowledge channels: %s", error)
            return
        self.sources = {c.channel_id: c.guild_id for c in channels}

    def catch_up_soon(self, channel_id: int) -> None:
        self.pending.put_nowait(channel_id)

    async def _work(self) -> None:
        """Catch up every source channel once the bot is ready, then each channel the
        commands add, one at a time."""
        await self.bot.wait_until_ready()
        await self.refresh()
        for channel_id in list(self.sources):
            await self._catch_up(channel_id)
        self.caught_up.set()
        log.info("knowledge channels caught up: %d", len(self.sources))
        while True:
            await self._catch_up(await self.pending.get())

    # -- the catch-up ---------------------------------------------------------------------

    async def _catch_up(self, channel_id: int) -> None:
        guild_id = self.sources.get(channel_id)
        channel = self.bot.get_channel(channel_id)
        if guild_id is None or not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            return
        places: Iterable[discord.TextChannel | discord.Thread] = (
            channel.threads[:CATCH_UP_POSTS] if isinstance(channel, discord.ForumChannel)
            else [channel]
        )
        newest = 0
        try:
            for place in places:
                newest = max(newest, await self._reread(guild_id, channel_id, place,
                                                        drop_deleted=place is channel))
            if newest:
                await self.store.mark_caught_up(guild_id, channel_id, newest)
        except (StorageUnavailable, discord.HTTPException, TimeoutError) as error:
            log.warning("knowledge catch-up of channel %s stopped: %s", channel_id, error)
            return
        log.info("knowledge channel %s caught up (to message %s)", channel_id, newest or None)

    async def _reread(
        self, guild_id: int, source_id: int, place: discord.TextChannel | discord.Thread,
        *, drop_deleted: bool,
    ) -> int:
        """Index ``place``'s newest messages again and, for a channel (whose indexed
        messages are all its own), drop those deleted among them; the newest id read, 0 for
        an empty channel."""
        async with asyncio.timeout(READ_SECONDS):
            messages = await uncancelled(_recent(place))
        if not messages:
            return 0
        for message in messages:
            await self._index(guild_id, source_id, message.id, self._text(message))
        if drop_deleted:
            read = {message.id for message in messages}
            # The whole channel was read when the page came back short: any indexed
            # message missing from it was deleted; else only those within the window.
            since = min(read) if len(messages) == CATCH_UP_MESSAGES else 0
            indexed = await self.store.indexed_messages(guild_id, source_id, since)
            for gone in sorted(indexed - read):
                await self.store.delete_message(guild_id, source_id, gone)
        return max(message.id for message in messages)

    # -- live events ------------------------------------------------------------------------

    def _source_of(self, channel_id: int) -> int | None:
        """The source channel a message in ``channel_id`` belongs to: the channel itself,
        or the parent of a thread (a forum's post)."""
        if channel_id in self.sources:
            return channel_id
        thread = self.bot.get_channel(channel_id)
        if isinstance(thread, discord.Thread) and thread.parent_id in self.sources:
            return thread.parent_id
        return None

    def _text(self, message: discord.Message) -> str:
        """What a message contributes: its text; nothing for the bot's own messages."""
        if self.bot.user is not None and message.author.id == self.bot.user.id:
            return ""
        return message.content

    async def _index(self, guild_id: int, source_id: int, message_id: int, text: str) -> None:
        try:
            await self.store.upsert_message(guild_id, source_id, message_id, text)
        except SourceRefused as refusal:
            log.warning("knowledge message %s not indexed: %s", message_id, refusal.reason)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        source = self._source_of(message.channel.id)
        if source is None or message.guild is None:
            return
        await self._live(self._index(message.guild.id, source, message.id, self._text(message)))

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        source = self._source_of(payload.channel_id)
        if source is None or payload.guild_id is None or "content" not in payload.data:
            return
        text = self._text(payload.message)
        await self._live(self._index(payload.guild_id, source, payload.message_id, text))

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._forget(payload.guild_id, payload.channel_id, [payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(
        self, payload: discord.RawBulkMessageDeleteEvent
    ) -> None:
        await self._forget(payload.guild_id, payload.channel_id, sorted(payload.message_ids))

    async def _forget(self, guild_id: int | None, channel_id: int, ids: list[int]) -> None:
        source = self._source_of(channel_id)
        if source is None or guild_id is None:
            return
        for message_id in ids:
            await self._live(self.store.delete_message(guild_id, source, message_id))

    async def _live(self, work: Awaitable[object]) -> None:
        """A live update; a database that does not answer costs this message's update (the
        next start's catch-up re-reads it), never the event loop's other work."""
        try:
            await work
        except StorageUnavailable as error:
            log.warning("knowledge index not updated: %s", error)

