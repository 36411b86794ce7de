"""Context for the model: a channel's memory, rebuilt from Discord's history when missing.

Memory is a cache (:mod:`bot.conversation.memory`); after a restart, or once a channel was
evicted, the conversation is read back from the channel: the messages that addressed the
bot and its own answers, back to the last ``/reset``, as live memory would hold them.
Prompts arriving together share one rebuild.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

import discord

from bot.attachments.download import AttachmentFetcher
from bot.attachments.kinds import AttachmentBatch, AttachmentRef
from bot.attachments.model_content import turn_text
from bot.config.settings import Settings
from bot.conversation.exchange import Prompt
from bot.conversation.failures import is_polite_failure
from bot.conversation.memory import ConversationMemory, Turn
from bot.conversation.notices import RESET_MARKER, is_notice
from bot.conversation.triggers import (
    attachment_refs,
    bot_thread,
    classify,
    readable_text,
    replied_refs,
)
from bot.runtime.uncancelled import uncancelled

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Asked:
    """A question read back from the channel history, before its attachments are read."""

    text: str
    author: str
    key: int
    refs: tuple[AttachmentRef, ...]

    @classmethod
    def of(cls, message: discord.Message, text: str) -> _Asked:
        """With the replied message's attachments after its own, as the question had them."""
        refs = attachment_refs(message) + replied_refs(message)
        return cls(text, message.author.display_name, message.id, refs)

    def turn(self, batch: AttachmentBatch) -> Turn:
        return Turn("user", turn_text(self.text, batch), self.author, key=self.key)


def reply_anchor(message: discord.Message) -> int | None:
    """The prompt a bot message answers: the message it replies to, or the ``/ask`` it
    follows up. Every part of a reply shares it."""
    if message.reference and message.reference.message_id:
        return message.reference.message_id
    metadata = message.interaction_metadata
    return metadata.id if metadata else None


class ChannelContext:
    """What the model reads in a channel: its memory, rebuilt once when missing."""

    def __init__(
        self, memory: ConversationMemory, settings: Settings, fetcher: AttachmentFetcher
    ) -> None:
        self.memory = memory
        self.settings = settings
        self.fetcher = fetcher
        self._rebuilds: dict[int, asyncio.Task[None]] = {}

    async def read(
        self, channel: discord.abc.Messageable, prompt: Prompt, me: discord.abc.User
    ) -> tuple[int, list[Turn]]:
        """Record the prompt in the channel's memory and return the conversation's epoch and
        what the model reads: everything said before the prompt in Discord, then the prompt.

        Recording at once (not after the answer) lets a second prompt in the channel see the
        first one's question while it is being answered.
        """
        await self._history_once(channel, prompt, me)
        epoch = self.memory.epoch(prompt.channel_id)
        batch = prompt.attachments
        turn = Turn("user", turn_text(prompt.text, batch), prompt.user_name,
                    key=prompt.message_id, images=batch.images)
        self.memory.add(prompt.channel_id, replace(turn, images=()), epoch=epoch)
        return epoch, [*self.memory.window(prompt.channel_id, before=prompt.message_id), turn]

    def forget(self, prompt: Prompt, epoch: int | None) -> None:
        """A prompt that got no answer is not context, as a rebuild would not count it."""
        if epoch is not None:
            self.memory.discard(prompt.channel_id, prompt.message_id, epoch=epoch)

    async def _history_once(
        self, channel: discord.abc.Messageable, prompt: Prompt, me: discord.abc.User
    ) -> None:
        """Rebuild a channel missing from memory, once: prompts arriving together after a
        restart share one rebuild instead of each reading the history."""
        channel_id = prompt.channel_id
        if channel_id in self.memory:
            return
        rebuild = self._rebuilds.get(channel_id)
        if rebuild is None:
            rebuild = asyncio.create_task(
                self._rebuild(channel, channel_id, prompt.message_id, me)
            )
            self._rebuilds[channel_id] = rebuild
            rebuild.add_done_callback(lambda _: self._rebuilds.pop(channel_id, None))
        await asyncio.shield(rebuild)

    async def _rebuild(
        self, channel: discord.abc.Messageable, channel_id: int, before: int,
        me: discord.abc.User,
    ) -> None:
        turns = await uncancelled(self.turns(channel, before, me))
        if channel_id not in self.memory:  # a /reset meanwhile wins over the old history
            self.memory.replace(channel_id, turns)

    async def turns(
        self, channel: discord.abc.Messageable, before: int, me: discord.abc.User
    ) -> list[Turn]:
        """Rebuild context from Discord after a restart: the messages that addressed the bot
        and its own answers, back to the last ``/reset``, as live memory would hold them.

        A prompt the bot did not answer with the model (a failure sentence, a notice such as
        the cooldown) is left out with that message, and so is an answer posted after a
        ``/reset`` to a prompt from before it.
        """
        bot_user = me
        settings = self.settings
        newest_first: list[Turn | _Asked] = []
        anchors: list[int | None] = []
        unanswered: set[int] = set()
        reset_at: int | None = None
        anchor: int | None = None
        limit = settings.context_max_messages * 3
        read = 0
        try:
            history = channel.history(limit=limit, before=discord.Object(before))
            async for message in history:
                read += 1
                if message.author.id == bot_user.id:
                    if message.content.startswith(RESET_MARKER):
                        reset_at = message.id
                        break
                    part_of = reply_anchor(message)
                    if is_notice(message.content) or is_polite_failure(message.content):
                        if part_of is not None:
                            unanswered.add(part_of)
                        anchor = None
                        continue
                    if not message.content:
                        continue
                    previous = newest_first[-1] if newest_first else None
                    if isinstance(previous, Turn) and part_of == anchor:
                        newest_first[-1] = Turn(
                            "assistant", f"{message.content}\n{previous.content}", key=message.id
                        )
                    else:
                        newest_first.append(Turn("assistant", message.content, key=message.id))
                        anchors.append(part_of)
                    anchor = part_of
                    continue
                anchor = None
                if message.id in unanswered:
                    continue
                if classify(message, bot_user, settings):
                    asked = _Asked.of(message, readable_text(message, bot_user.id))
                    if asked.text or asked.refs:
                        newest_first.append(asked)
                        anchors.append(None)
        except discord.HTTPException as error:
            log.warning(
                "could not read history of channel %s: %s", getattr(channel, "id", "?"), error
            )
        if reset_at is None and read < limit and (starter := await self._starter(
            channel, before, bot_user
        )):
            newest_first.append(starter)
            anchors.append(None)
        if reset_at is not None:
            newest_first = [
                turn for turn, part_of in zip(newest_first, anchors, strict=True)
                if part_of is None or part_of > reset_at
            ]
        newest_first.reverse()
        return await self._read_earlier(newest_first[-settings.context_max_messages :])

    async def _starter(
        self, channel: discord.abc.Messageable, before: int, me: discord.abc.User
    ) -> _Asked | None:
        """The question a thread of the bot's was opened on, read back from the parent
        channel (the thread carries its id), once the thread's history is read to its start:
        the thread's first turn, which its own history does not hold."""
        if not bot_thread(channel, me.id) or not isinstance(channel, discord.Thread):
            return None
        if channel.id >= before:
            return None
        try:
            parent = channel.parent or await channel.guild.fetch_channel(channel.parent_id)
            if not isinstance(parent, discord.TextChannel):
                return None
            message = await parent.fetch_message(channel.id)
        except discord.HTTPException as error:
            log.info("could not read the question of thread %s: %s", channel.id, error)
            return None
        asked = _Asked.of(message, readable_text(message, me.id))
        return asked if asked.text or asked.refs else None

    async def _read_earlier(self, turns: list[Turn | _Asked]) -> list[Turn]:
        """The rebuilt questions as live memory holds them: earlier text files read again
        under the same caps, earlier images named (``[image: name]``), never downloaded."""
        fetcher = self.fetcher
        batches = await asyncio.gather(*(
            fetcher.fetch(turn.refs, vision=False, earlier=True)
            for turn in turns if isinstance(turn, _Asked)
        ))
        read = iter(batches)
        return [
            turn.turn(next(read)) if isinstance(turn, _Asked) else turn for turn in turns
        ]
