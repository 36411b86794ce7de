"""Putting a reply on Discord: one message, or several, edited as the model streams.

Streaming edits are paced to about one per second per message: discord.py would absorb
429s, but provoking them stalls every other reply in the channel. The text is re-split on
every push; since :func:`bot.replies.splitting.split_message` is greedy from the start, parts that
are full never change again, so each push edits at most the part still growing (plus the
one that just filled up) and sends any new part.

Every part replies to the user's message, so after a restart any part of a reply can be
traced back to the prompt it answers (reactions on old replies rely on this).

A reply never floods a channel: past ``max_messages`` parts the rest of the answer is
attached to the last part as ``answer.md`` (Discord allows 10 files of up to 10 MiB a
message, "Uploading Files" in the API reference), once the answer is complete; streaming
never creates more than ``max_messages`` messages.

Discord may refuse a call part-way (a moderator deleted the message being streamed: 404
Unknown Message; a permission removed: 403; 400). A deleted part is posted again as a new
message and the reply goes on; when a part cannot be posted at all, the last part shown is
marked as cut off with a sentence saying why, and :class:`ReplyRefused` tells the caller
what the user saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Callable
from typing import Protocol

import discord

from bot.replies.splitting import DISCORD_LIMIT, Chunk, close_open_fence, split_chunks
from bot.runtime.command_tree import tell
from bot.runtime.uncancelled import uncancelled

NO_PINGS = discord.AllowedMentions.none()
CUT_OFF_MARKER = "⚠️ *The answer was cut off.*"
DISCORD_REFUSED = "Discord refused the rest of this answer here."
OVERFLOW_FILENAME = "answer.md"
_FENCE_CLOSE_ROOM = "\n   " + "`" * 16
DEFAULT_MAX_MESSAGES = 10

log = logging.getLogger(__name__)
_late_deletes: set[asyncio.Task[None]] = set()


class ReplyRefused(Exception):
    """Discord refused a part and the rest could not be delivered.

    ``seen`` is what the user is left with: the reply's messages as they stand, joined by
    newlines (empty when nothing could be posted)."""

    def __init__(self, reason: str, seen: str, error: discord.HTTPException) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.seen = seen
        self.error = error


def refusal_reason(error: discord.HTTPException) -> str:
    """``message_deleted`` for Discord's 404 Unknown Message (10008), else ``discord_refused``."""
    return "message_deleted" if isinstance(error, discord.NotFound) else "discord_refused"


def _delete_when_sent(sending: asyncio.Future[discord.Message | discord.WebhookMessage]) -> None:
    """A part whose reply was abandoned arrived after all: remove it (never cancelled)."""
    if sending.cancelled() or sending.exception() is not None:
        return
    task = asyncio.ensure_future(uncancelled(sending.result().delete()))
    _late_deletes.add(task)
    task.add_done_callback(_late_deletes.discard)


class ReplyTarget(Protocol):
    async def send(self, content: str) -> discord.Message | discord.WebhookMessage: ...


class MessageTarget:
    """Replies to a user's message; still posts if the message was deleted meanwhile."""

    typing = True  # nothing else shows the user that an answer is coming

    def __init__(self, message: discord.Message) -> None:
        self.message = message
        self.channel: discord.abc.Messageable = message.channel
        self.author: discord.abc.User = message.author

    async def send(self, content: str) -> discord.Message:
        return await self.message.channel.send(
            content,
            reference=self.message.to_reference(fail_if_not_exists=False),
            mention_author=False,
            allowed_mentions=NO_PINGS,
        )

    async def acknowledge(self) -> None:
        """A message needs no acknowledgement: the typing indicator shows the bot is on it."""

    async def refuse(self, text: str, *, for_seconds: float | None = None) -> None:
        """A short notice that is not a model answer (hint, cooldown), removed after
        ``for_seconds``; never logged, and a refused notice only logged."""
        try:
            if for_seconds is None:
                await self.message.reply(text, mention_author=False)
            else:
                await self.message.reply(text, mention_author=False, delete_after=for_seconds)
        except discord.HTTPException as error:
            log.warning("could not post notice in channel %s: %s", self.message.channel.id, error)


class InteractionTarget:
    """Answers a deferred slash command through its followup webhook."""

    typing = False  # the deferral already shows "thinking"

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"interaction {interaction.id} came from no text channel")
        self.channel: discord.abc.Messageable = channel
        self.author: discord.abc.User = interaction.user

    async def send(self, content: str) -> discord.WebhookMessage:
        return await self.interaction.followup.send(content, wait=True, allowed_mentions=NO_PINGS)

    async def acknowledge(self) -> None:
        """Defer at once: Discord drops an interaction not answered within 3 s, and models
        are slower than that."""
        await self.interaction.response.defer(thinking=True)

    async def refuse(self, text: str, *, for_seconds: float | None = None) -> None:
        """An ephemeral sentence, seen by the asker alone; it needs no removal."""
        await tell(self.interaction, text)


class ReplyWriter:
    def __init__(
        self,
        target: ReplyTarget,
        *,
        edit_interval: float = 1.0,
        limit: int = DISCORD_LIMIT,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.edit_interval = edit_interval
        self.limit = limit
        self.max_messages = max_messages
        self.clock = clock
        self.messages: list[discord.Message | discord.WebhookMessage] = []
        self.edits = 0
        self.attached = False
        self.refusals: list[str] = []
        self._shown: list[str] = []
        self._text = ""
        self._seen_end = 0
        self._last_push = float("-inf")

    @property
    def delivery(self) -> str:
        """How the answer reached the user, for analytics."""
        return "messages+file" if self.attached else "messages"

    @property
    def seen(self) -> str:
        """The text on Discord now: the parts shown (and the file attached)."""
        return self._text if self.attached else self._text[: self._seen_end]

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

    async def _send(self, part: str) -> discord.Message | discord.WebhookMessage:
        """Post a new part. If the reply is cancelled meanwhile (its question was deleted),
        Discord may still create the message: wait for it, without cancelling the request,
        and keep it so the withdrawal that follows deletes it; cancelled again while
        waiting (shutdown), the message is deleted whenever it arrives."""
        sending = asyncio.ensure_future(self.target.send(part))
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            try:
                with contextlib.suppress(discord.HTTPException):
                    self.messages.append(await asyncio.shield(sending))
            except asyncio.CancelledError:
                sending.add_done_callback(_delete_when_sent)
            raise

    async def _put(self, index: int, part: str) -> None:
        """Show ``part`` as message ``index``: edit it, or post it (again, if it was
        deleted or its edit refused)."""
        if index < len(self.messages):
            if self._shown[index] == part:
                return
            try:
                await uncancelled(
                    self.messages[index].edit(content=part, allowed_mentions=NO_PINGS)
                )
                self._shown[index] = part
                self.edits += 1
                return
            except discord.HTTPException as error:
                self.refusals.append(refusal_reason(error))
                log.info("part %d of a reply refused (%s); posting it anew", index, error)
            self.messages[index] = await self._send(part)
            self._shown[index] = part
            return
        self.messages.append(await self._send(part))
        self._shown.append(part)

    async def _attach(self, rest: str) -> None:
        """Attach the rest of the answer to the last part, as Discord users expect for
        long code; ``Message.edit(attachments=...)`` uploads it (multipart ``files[0]``)."""
        upload = discord.File(io.BytesIO(rest.encode()), filename=OVERFLOW_FILENAME)
        await uncancelled(self.messages[-1].edit(attachments=[upload]))
        self.attached = True

    async def _give_up(self, error: discord.HTTPException) -> None:
        """Mark the last part shown as cut off, then report what the user was left with:
        the messages as they stand, joined."""
        reason = refusal_reason(error)
        self.refusals.append(reason)
        if self.messages:
            note = f"\n\n{CUT_OFF_MARKER} {DISCORD_REFUSED}"
            room = self.limit - len(note) - len(_FENCE_CLOSE_ROOM)
            head = split_chunks(self._shown[-1], room)[0].content if self._shown[-1] else ""
            marked = close_open_fence(head) + note
            with contextlib.suppress(discord.HTTPException):
                await uncancelled(
                    self.messages[-1].edit(content=marked, allowed_mentions=NO_PINGS)
                )
                self._shown[-1] = marked
        raise ReplyRefused(reason, "\n".join(self._shown), error) from error

    async def _show(self, text: str, *, final: bool) -> None:
        self._text = text
        chunks: list[Chunk] = split_chunks(text, self.limit)
        overflow = len(chunks) > self.max_messages
        shown = chunks[: self.max_messages]
        parts = [chunk.content for chunk in shown]
        if not final and parts and not overflow:
            closed = close_open_fence(parts[-1])
            if len(closed) <= self.limit:
                parts[-1] = closed
        try:
            for index, part in enumerate(parts):
                await self._put(index, part)
                self._seen_end = shown[index].end
            if final and overflow:
                await self._attach(text[chunks[self.max_messages].start :])
        except discord.HTTPException as error:
            await self._give_up(error)
        self._last_push = self.clock()
