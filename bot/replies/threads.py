"""Answering a question in a thread of its own, opened on the question's message.

In a channel whose admins chose ``/threads on`` (or that the operator lists in
``THREAD_CHANNEL_IDS``), the answer to a question goes into a public thread started from
it ("Start Thread from Message", Channels resource): the thread carries the question's id
(Discord: "the id of the created thread will be the same as the id of the source
message"), is named from the question, and becomes the question's conversation, for the
model's context and for Greenflash alike.

The thread is opened once the question is accepted (past the cooldown), so a refused
question leaves no empty thread behind. Opening needs Create Public Threads and posting in
it Send Messages in Threads; when either is missing (computed from the cached permissions,
or Discord's 403 when the cache was behind) or Discord refuses otherwise, the question is
answered in the channel as before, after one line saying why.

The answers in the thread are not replies: Discord refuses a reply to a message in another
channel ("Cannot reply to a message in a different channel"), and the question sits in
the parent. The thread itself ties them together.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import discord

from bot.conversation.exchange import Prompt
from bot.conversation.notices import NO_THREAD, NO_THREAD_PERMISSIONS
from bot.replies.writer import NO_PINGS, MessageTarget
from bot.runtime.uncancelled import uncancelled

if TYPE_CHECKING:  # discord.types imports itself in a cycle at run time
    from discord.types.threads import ThreadArchiveDuration

log = logging.getLogger(__name__)

THREAD_PERMISSIONS = discord.Permissions(create_public_threads=True, send_messages_in_threads=True)


def missing_thread_permissions(permissions: discord.Permissions) -> bool:
    return not THREAD_PERMISSIONS.is_subset(permissions)


class ThreadTarget:
    """An arrival that moves into the thread it opens when the question is acknowledged;
    until then (a cooldown refusal), and when no thread could be opened, it answers like
    :class:`~bot.replies.writer.MessageTarget`."""

    typing = True

    def __init__(self, message: discord.Message, *, name: str, archive_minutes: int) -> None:
        """``name``: the thread's (:func:`bot.conversation.thread_names.thread_name`);
        ``archive_minutes``: one of the durations Discord accepts (the settings check it)."""
        self.message = message
        self.name = name
        self.archive_minutes = cast("ThreadArchiveDuration", archive_minutes)
        self.in_channel = MessageTarget(message)
        self.channel: discord.abc.Messageable = message.channel
        self.author: discord.abc.User = message.author
        self.thread: discord.Thread | None = None

    async def send(self, content: str) -> discord.Message:
        if self.thread is None:
            return await self.in_channel.send(content)
        return await self.thread.send(content, allowed_mentions=NO_PINGS)

    async def refuse(self, text: str, *, for_seconds: float | None = None) -> None:
        await self.in_channel.refuse(text, for_seconds=for_seconds)

    async def acknowledge(self) -> None:
        """Open the thread, or say in one line why the answer comes in the channel."""
        message = self.message
        channel = message.channel
        guild = message.guild
        if not isinstance(channel, discord.TextChannel) or guild is None:
            return
        if missing_thread_permissions(channel.permissions_for(guild.me)):
            log.info("no thread for %s in %s: Create Public Threads or Send Messages in "
                     "Threads missing", message.id, channel.id)
            await self._explain(NO_THREAD_PERMISSIONS)
            return
        try:
            self.thread = await uncancelled(message.create_thread(
                name=self.name, auto_archive_duration=self.archive_minutes
            ))
        except discord.Forbidden as error:
            log.info("Discord refused a thread for %s in %s: %s", message.id, channel.id, error)
            await self._explain(NO_THREAD_PERMISSIONS)
            return
        except discord.HTTPException as error:
            log.warning("could not open a thread for %s in %s: %s", message.id, channel.id,
                        error)
            await self._explain(NO_THREAD)
            return
        self.channel = self.thread

    def placed(self, prompt: Prompt) -> Prompt:
        """The prompt where it is answered: in the thread, the thread is its conversation
        (the question keeps its own message id), under the channel it was asked in."""
        thread = self.thread
        if thread is None:
            return prompt
        return replace(
            prompt,
            channel_id=thread.id,
            channel_name=thread.name,
            parent_id=prompt.channel_id,
            parent_name=prompt.channel_name,
        )

    async def _explain(self, line: str) -> None:
        """The one line, posted in the channel (not as a reply: a rebuilt history must not
        take the question for unanswered) and never raising: the answer still follows."""
        try:
            await uncancelled(self.message.channel.send(line, allowed_mentions=NO_PINGS))
        except discord.HTTPException as error:
            log.warning("could not explain the missing thread in %s: %s",
                        self.message.channel.id, error)
