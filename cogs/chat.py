"""Producing replies: context, the model call, posting, and the assistant's analytics.

The receiving side (``ChatBot.on_message``, ``/ask``) has already decided a prompt deserves
an answer and logged it. Here the answer is produced and, once it is on Discord, logged as
the assistant's half of the conversation, threaded to the prompt.

Each reply runs as its own task so that a user deleting their question cancels just that
reply, and shutdown can wait for replies in progress with a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

import discord
from discord.ext import commands

from bot.attachments.kinds import AttachmentBatch, AttachmentRef, SkipReason
from bot.attachments.model_content import turn_text
from bot.attachments.notes import skipped_line
from bot.conversation.exchange import Completion, Prompt, Reply, Usage
from bot.conversation.failures import ModelError, is_polite_failure
from bot.conversation.memory import ConversationMemory, Turn
from bot.conversation.notices import BUDGET_REACHED, RESET_MARKER, is_notice
from bot.conversation.triggers import attachment_refs, classify, readable_text, replied_refs
from bot.replies.typing_indicator import TypingIndicator
from bot.replies.writer import (
    InteractionTarget,
    MessageTarget,
    ReplyRefused,
    ReplyTarget,
    ReplyWriter,
)
from bot.runtime.uncancelled import cancel_and_wait, uncancelled

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

FEEDBACK_EMOJI = ("👍", "👎")
EDIT_INTERVAL = 1.0
_REPLY_PARTS_KEPT = 20_000


def with_attachment_note(completion: Completion, batch: AttachmentBatch) -> str:
    """The answer, and under it the one short line naming what the model did not get
    (Discord's ``-#`` subtext); after a text-only retry every image counts as not seen."""
    if completion.images_dropped:
        batch = batch.without_images(SkipReason.NO_VISION)
    line = skipped_line(batch)
    return f"{completion.shown_text}\n-# {line}" if line else completion.shown_text


@dataclass(frozen=True, slots=True)
class _Asked:
    """A question read back from the channel history, before its attachments are read."""

    role: ClassVar[Literal["user"]] = "user"
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


class Chat(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        settings = bot.settings
        # + 1: the prompt being answered is in memory too, after the context it reads.
        self.memory = ConversationMemory(
            max_turns=settings.context_max_messages + 1, max_chars=settings.context_max_chars
        )
        self.base_edit_interval = EDIT_INTERVAL
        self._replies: dict[int, asyncio.Task[None]] = {}
        self._first_part: OrderedDict[int, int] = OrderedDict()
        self._rebuilds: dict[int, asyncio.Task[None]] = {}

    @property
    def edit_interval(self) -> float:
        """Seconds between streaming edits of one message: stretched while the bot is
        spending Discord's invalid-request budget (:mod:`bot.runtime.request_budget`)."""
        return self.base_edit_interval * self.bot.request_budget.edit_interval_factor()

    @edit_interval.setter
    def edit_interval(self, seconds: float) -> None:
        self.base_edit_interval = seconds

    # -- entry points -----------------------------------------------------------------------

    async def answer_message(
        self, message: discord.Message, prompt: Prompt, read: Awaitable[Prompt]
    ) -> None:
        """Reply to a message the client accepted, with a typing indicator meanwhile;
        ``read`` gives the prompt with its attachments once they are downloaded."""
        await self._run(prompt, MessageTarget(message), message.channel, typing=True, read=read)

    async def answer_interaction(self, interaction: discord.Interaction, prompt: Prompt) -> None:
        """Answer a deferred ``/ask``; the deferral already shows "thinking"."""
        channel = interaction.channel
        assert channel is not None
        await self._run(prompt, InteractionTarget(interaction), channel, typing=False)

    async def notify(
        self, message: discord.Message, text: str, *, delete_after: float | None = None
    ) -> None:
        """A short notice that is not a model answer (hint, cooldown); never logged."""
        try:
            await message.reply(text, mention_author=False, delete_after=delete_after)
        except discord.HTTPException as error:
            log.warning("could not post notice in channel %s: %s", message.channel.id, error)

    def first_part(self, message_id: int) -> int | None:
        """The first message of the reply that ``message_id`` belongs to, if sent this run."""
        return self._first_part.get(message_id)

    async def drain(self, grace: float) -> None:
        """Shutdown: let replies in progress finish for ``grace`` seconds, then cancel the
        rest; each withdraws what it had streamed (its REST calls are never cancelled), for
        at most another half of ``grace``, so shutdown ends in bound."""
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

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A question deleted while the model works is not answered, and Greenflash, which
        has the question, is told why no answer follows (``prompt_deleted``)."""
        task = self._replies.get(payload.message_id)
        if task is not None:
            log.info("prompt %s deleted; abandoning its reply", payload.message_id)
            task.cancel()
            cached = payload.cached_message
            self.bot.analytics.prompt_deleted(
                guild_id=payload.guild_id,
                channel_id=payload.channel_id,
                message_id=payload.message_id,
                author_id=cached.author.id if cached is not None else None,
                deleted_at=discord.utils.utcnow(),
            )

    # -- producing a reply ------------------------------------------------------------------

    async def _run(
        self,
        prompt: Prompt,
        target: ReplyTarget,
        channel: discord.abc.Messageable,
        *,
        typing: bool,
        read: Awaitable[Prompt] | None = None,
    ) -> None:
        task = asyncio.create_task(
            self._answer(prompt, target, channel, typing=typing, read=read)
        )
        self._replies[prompt.message_id] = task
        try:
            with self.bot.foreground.reply():
                await asyncio.wait([task])
        finally:
            self._replies.pop(prompt.message_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "reply to %s in channel %s failed",
                prompt.message_id,
                prompt.channel_id,
                exc_info=task.exception(),
            )

    async def _answer(
        self,
        prompt: Prompt,
        target: ReplyTarget,
        channel: discord.abc.Messageable,
        *,
        typing: bool,
        read: Awaitable[Prompt] | None = None,
    ) -> None:
        """``read`` is shielded: a deleted question cancels its reply, not the Greenflash
        log that waits for the same downloads."""
        writer = ReplyWriter(
            target,
            edit_interval=self.edit_interval,
            max_messages=self.bot.settings.reply_max_messages,
        )
        started = time.monotonic()
        epoch: int | None = None
        voice = prompt.voice or self.bot.model.default_voice
        budget = self.bot.request_budget
        try:
            if await self._over_budget(prompt, writer):
                return
            async with TypingIndicator(
                channel if typing else None, allowed=budget.optional_allowed
            ) as indicator:
                if read is not None:
                    prompt = await asyncio.shield(read)
                epoch, turns = await self._context(channel, prompt)

                async def show(text: str) -> None:
                    indicator.stop()
                    await writer.update(text)

                completion = await self.bot.model.reply(turns, on_text=show, voice=voice)
                shown = with_attachment_note(completion, prompt.attachments)
                await writer.finish(shown)
        except ModelError as error:
            self._forget(prompt, epoch)
            await self._fail(prompt, writer, error, started)
            return
        except asyncio.CancelledError:
            self._forget(prompt, epoch)
            await self._withdraw(writer)
            raise
        except ReplyRefused as refusal:
            # The question stays in memory: a rebuild would read it, unanswered, too.
            log.warning(
                "could not post reply in channel %s to %s: %s",
                prompt.channel_id,
                prompt.message_id,
                refusal,
            )
            if writer.messages:
                self._log_reply(
                    prompt, writer, started, text=refusal.seen, model=self.bot.model.model,
                    usage=Usage(), cut_off=True,
                )
            self._record_failure(prompt, refusal.reason, partial=bool(writer.messages))
            return
        self.memory.add(
            prompt.channel_id,
            Turn("assistant", shown, key=writer.messages[0].id),
            epoch=epoch,
        )
        self.bot.storage.charge_later(
            prompt.guild_id, prompt.user_id, tokens=completion.usage.total_tokens
        )
        self._log_reply(
            prompt,
            writer,
            started,
            text=shown,
            model=completion.model,
            usage=completion.usage,
            cut_off=completion.cut_off,
            finish_reason=completion.finish_reason,
            refused=completion.refused,
            images_dropped=completion.images_dropped,
        )
        if writer.refusals:
            self._record_failure(prompt, writer.refusals[0], partial=False, recovered=True)
        if self.bot.settings.feedback_reactions:
            await self._invite_feedback(writer.messages[-1])

    async def _over_budget(self, prompt: Prompt, writer: ReplyWriter) -> bool:
        """Past today's budget: the notice instead of a model call (admins exempt when the
        operator says so), and a negative ``daily_budget_reached`` event. A budget the
        database could not check is not enforced (:meth:`Storage.check_budget`)."""
        storage = self.bot.storage
        if prompt.admin and storage.config.budget_exempt_admins:
            return False
        check = await storage.check_budget(prompt.guild_id, prompt.user_id)
        if not check.over or check.usage is None:
            return False
        await writer.finish(BUDGET_REACHED.format(resets=int(check.resets_at.timestamp())))
        self.bot.analytics.prompt_outcome(
            prompt,
            "daily_budget_reached",
            influence="negative",
            value="over the daily budget",
            properties={
                "tokens_used": check.usage.tokens,
                "messages_used": check.usage.messages,
                "token_budget": check.budget.tokens or 0,
                "message_budget": check.budget.messages or 0,
                "resets_at": check.resets_at.isoformat(),
            },
        )
        return True

    def _log_reply(
        self,
        prompt: Prompt,
        writer: ReplyWriter,
        started: float,
        *,
        text: str,
        model: str,
        usage: Usage,
        cut_off: bool = False,
        finish_reason: str | None = None,
        refused: bool = False,
        images_dropped: bool = False,
    ) -> None:
        """Log the assistant's half, once the reply is complete on Discord."""
        ids = tuple(message.id for message in writer.messages)
        for message_id in ids:
            self._first_part[message_id] = ids[0]
        while len(self._first_part) > _REPLY_PARTS_KEPT:
            self._first_part.popitem(last=False)
        reply = Reply(
            text=text,
            message_ids=ids,
            created_at=writer.messages[0].created_at,
            model=model,
            latency_ms=round((time.monotonic() - started) * 1000),
            usage=usage,
            cut_off=cut_off,
            finish_reason=finish_reason,
            refused=refused,
            images_dropped=images_dropped,
            delivery=writer.delivery,
        )
        analytics = self.bot.analytics
        analytics.keep(asyncio.create_task(analytics.log_assistant_message(prompt, reply)))

    async def _fail(
        self, prompt: Prompt, writer: ReplyWriter, error: ModelError, started: float
    ) -> None:
        """The polite sentence; a cut-off stream keeps its text and is logged as seen."""
        try:
            shown = await writer.fail(error.partial_text, error.user_message)
        except ReplyRefused as refusal:
            log.warning("could not post failure notice in %s: %s", prompt.channel_id, refusal)
            shown = refusal.seen
        if writer.messages and error.partial_text:
            self._log_reply(
                prompt,
                writer,
                started,
                text=shown,
                model=(prompt.voice or self.bot.model.default_voice).model,
                usage=Usage(),
                cut_off=True,
            )
        self._record_failure(prompt, str(error.kind), partial=bool(error.partial_text))

    def _record_failure(
        self, prompt: Prompt, reason: str, *, partial: bool, recovered: bool = False
    ) -> None:
        """A ``reply_failed`` event: the model failed, or Discord refused part of the reply
        (``message_deleted``, ``discord_refused``; ``recovered`` when the rest still got
        through)."""
        properties: dict[str, object] = {"partial": partial}
        if recovered:
            properties["recovered"] = True
        analytics = self.bot.analytics
        analytics.keep(
            asyncio.create_task(
                analytics.record_event(
                    "reply_failed",
                    guild_id=prompt.guild_id,
                    conversation_id=prompt.channel_id,
                    user_id=prompt.user_id,
                    source_id=prompt.message_id,
                    influence="negative",
                    value=reason,
                    properties=properties,
                )
            )
        )

    async def _withdraw(self, writer: ReplyWriter) -> None:
        """Remove the parts already streamed for a reply that was cancelled."""
        for message in writer.messages:
            with contextlib.suppress(discord.HTTPException):
                await uncancelled(message.delete())

    async def _invite_feedback(self, message: discord.Message | discord.WebhookMessage) -> None:
        """Optional traffic: skipped while Discord's invalid-request budget is being spent."""
        if not self.bot.request_budget.optional_allowed():
            log.info("no feedback reactions in %s: saving Discord's invalid-request budget",
                     message.channel.id)
            return
        try:
            for emoji in FEEDBACK_EMOJI:
                await uncancelled(message.add_reaction(emoji))
        except discord.HTTPException as error:
            log.info("could not add feedback reactions in %s: %s", message.channel.id, error)

    # -- context ----------------------------------------------------------------------------

    async def _context(
        self, channel: discord.abc.Messageable, prompt: Prompt
    ) -> tuple[int, list[Turn]]:
        """Record the prompt in the channel's memory and return the conversation's epoch and
        what the model reads: everything said before the prompt in Discord, then the prompt.

        Recording at once (not after the answer) lets a second prompt in the channel see the
        first one's question while it is being answered.
        """
        await self._history_once(channel, prompt)
        epoch = self.memory.epoch(prompt.channel_id)
        batch = prompt.attachments
        turn = Turn("user", turn_text(prompt.text, batch), prompt.user_name,
                    key=prompt.message_id, images=batch.images)
        self.memory.add(prompt.channel_id, replace(turn, images=()), epoch=epoch)
        return epoch, [*self.memory.window(prompt.channel_id, before=prompt.message_id), turn]

    async def _history_once(self, channel: discord.abc.Messageable, prompt: Prompt) -> None:
        """Rebuild a channel missing from memory, once: prompts arriving together after a
        restart share one rebuild instead of each reading the history."""
        channel_id = prompt.channel_id
        if channel_id in self.memory:
            return
        rebuild = self._rebuilds.get(channel_id)
        if rebuild is None:
            rebuild = asyncio.create_task(
                self._rebuild(channel, channel_id, prompt.message_id)
            )
            self._rebuilds[channel_id] = rebuild
            rebuild.add_done_callback(lambda _: self._rebuilds.pop(channel_id, None))
        await asyncio.shield(rebuild)

    async def _rebuild(
        self, channel: discord.abc.Messageable, channel_id: int, before: int
    ) -> None:
        turns = await uncancelled(self._history_turns(channel, before))
        if channel_id not in self.memory:  # a /reset meanwhile wins over the old history
            self.memory.replace(channel_id, turns)

    def _forget(self, prompt: Prompt, epoch: int | None) -> None:
        """A prompt that got no answer is not context, as a rebuild would not count it."""
        if epoch is not None:
            self.memory.discard(prompt.channel_id, prompt.message_id, epoch=epoch)

    async def _history_turns(self, channel: discord.abc.Messageable, before: int) -> list[Turn]:
        """Rebuild context from Discord after a restart: the messages that addressed the bot
        and its own answers, back to the last ``/reset``, as live memory would hold them.

        A prompt the bot did not answer with the model (a failure sentence, a notice such as
        the cooldown) is left out with that message, and so is an answer posted after a
        ``/reset`` to a prompt from before it.
        """
        bot_user = self.bot.user
        assert bot_user is not None
        settings = self.bot.settings
        newest_first: list[Turn | _Asked] = []
        anchors: list[int | None] = []
        unanswered: set[int] = set()
        reset_at: int | None = None
        anchor: int | None = None
        try:
            history = channel.history(
                limit=settings.context_max_messages * 3, before=discord.Object(before)
            )
            async for message in history:
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
                    if newest_first and newest_first[-1].role == "assistant" and part_of == anchor:
                        previous = newest_first.pop()
                        newest_first.append(
                            Turn("assistant", f"{message.content}\n{previous.content}",
                                 key=message.id)
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
        if reset_at is not None:
            newest_first = [
                turn for turn, part_of in zip(newest_first, anchors, strict=True)
                if part_of is None or part_of > reset_at
            ]
        newest_first.reverse()
        return await self._read_earlier(newest_first[-settings.context_max_messages :])

    async def _read_earlier(self, turns: list[Turn | _Asked]) -> list[Turn]:
        """The rebuilt questions as live memory holds them: earlier text files read again
        under the same caps, earlier images named (``[image: name]``), never downloaded."""
        fetcher = self.bot.attachments
        batches = await asyncio.gather(*(
            fetcher.fetch(turn.refs, vision=False, earlier=True)
            for turn in turns if isinstance(turn, _Asked)
        ))
        read = iter(batches)
        return [
            turn.turn(next(read)) if isinstance(turn, _Asked) else turn for turn in turns
        ]

    def reset(self, channel_id: int) -> None:
        self.memory.reset(channel_id)


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Chat(bot))
