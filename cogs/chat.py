"""Producing replies: context, the model call, posting, and the assistant's analytics.

The receiving side (:meth:`bot.client.ChatBot.accept`, for messages and ``/ask`` alike) has
already decided a prompt deserves an answer, checked the cooldown and the budget, and
logged it. Here the answer is produced and, once it is on Discord, logged as the
assistant's half of the conversation, threaded to the prompt. Each reply runs as its own
task (:mod:`bot.replies.tasks`); context comes from :mod:`bot.conversation.history`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from functools import partial
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.analytics.agent_trail import AgentTrail
from bot.attachments.kinds import AttachmentBatch, SkipReason
from bot.attachments.notes import skipped_line
from bot.conversation.exchange import Completion, Prompt, Reply, Usage
from bot.conversation.failures import ModelError
from bot.conversation.history import ChannelContext
from bot.conversation.memory import ConversationMemory, Turn
from bot.replies.producer import Arrival
from bot.replies.tasks import ReplyTasks
from bot.replies.typing_indicator import TypingIndicator
from bot.replies.writer import ReplyRefused, ReplyWriter
from bot.runtime.uncancelled import uncancelled

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

FEEDBACK_EMOJI = ("👍", "👎")
EDIT_INTERVAL = 1.0


def with_attachment_note(completion: Completion, batch: AttachmentBatch) -> str:
    """The answer, and under it the one short line naming what the model did not get
    (Discord's ``-#`` subtext); after a text-only retry every image counts as not seen."""
    if completion.images_dropped:
        batch = batch.without_images(SkipReason.NO_VISION)
    line = skipped_line(batch)
    return f"{completion.shown_text}\n-# {line}" if line else completion.shown_text


class Chat(commands.Cog):
    """The bot's :class:`bot.replies.producer.ReplyProducer`."""

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        settings = bot.settings
        # + 1: the prompt being answered is in memory too, after the context it reads.
        self.memory = ConversationMemory(
            max_turns=settings.context_max_messages + 1, max_chars=settings.context_max_chars
        )
        self.context = ChannelContext(self.memory, settings, bot.attachments)
        self.replies = ReplyTasks(bot.foreground)
        self.base_edit_interval = EDIT_INTERVAL

    @property
    def edit_interval(self) -> float:
        """Seconds between streaming edits of one message: stretched while the bot is
        spending Discord's invalid-request budget (:mod:`bot.runtime.request_budget`)."""
        return self.base_edit_interval * self.bot.request_budget.edit_interval_factor()

    @edit_interval.setter
    def edit_interval(self, seconds: float) -> None:
        self.base_edit_interval = seconds

    # -- entry points -----------------------------------------------------------------------

    async def answer(self, prompt: Prompt, arrival: Arrival, read: Awaitable[Prompt]) -> None:
        """Reply to a prompt the bot accepted, as its own task (a deleted question cancels
        it), with a typing indicator meanwhile where the arrival shows none."""
        await self.replies.run(
            prompt.message_id, prompt.channel_id, self._answer(prompt, arrival, read)
        )

    async def drain(self, grace: float) -> None:
        await self.replies.drain(grace)

    def reset(self, channel_id: int) -> None:
        self.memory.reset(channel_id)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A question deleted while the model works is not answered, and Greenflash, which
        has the question, is told why no answer follows (``prompt_deleted``)."""
        if self.replies.cancel(payload.message_id):
            log.info("prompt %s deleted; abandoning its reply", payload.message_id)
            cached = payload.cached_message
            self.bot.analytics.prompt_deleted(
                guild_id=payload.guild_id,
                channel_id=payload.channel_id,
                message_id=payload.message_id,
                author_id=cached.author.id if cached is not None else None,
                deleted_at=discord.utils.utcnow(),
            )

    # -- producing a reply ------------------------------------------------------------------

    async def _answer(self, prompt: Prompt, arrival: Arrival, read: Awaitable[Prompt]) -> None:
        """``read`` is shielded: a deleted question cancels its reply, not the Greenflash
        log that waits for the same downloads."""
        writer = ReplyWriter(
            arrival,
            edit_interval=self.edit_interval,
            max_messages=self.bot.settings.reply_max_messages,
        )
        started = time.monotonic()
        epoch: int | None = None
        voice = prompt.voice or self.bot.model.default_voice
        budget = self.bot.request_budget
        me = self.bot.user
        assert me is not None, "replies start only once the bot is logged in"
        try:
            async with TypingIndicator(
                arrival.channel if arrival.typing else None, allowed=budget.optional_allowed
            ) as indicator:
                prompt = await asyncio.shield(read)
                epoch, turns = await self.context.read(arrival.channel, prompt, me)

                async def show(text: str) -> None:
                    indicator.stop()
                    await writer.update(text)

                trail = AgentTrail(
                    prompt.message_id, partial(self.bot.analytics.agent_step, prompt), voice.model
                )
                agent, briefed = await self.bot.agent_for(arrival, prompt, voice, trail)
                run = await agent.answer(
                    turns, voice=briefed, on_text=show, on_status=show, steps=trail
                )
                completion = run.completion
                shown = with_attachment_note(completion, prompt.attachments)
                await writer.finish(shown)
        except ModelError as error:
            self.context.forget(prompt, epoch)
            await self._fail(prompt, writer, error, started)
            return
        except asyncio.CancelledError:
            self.context.forget(prompt, epoch)
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
            self.bot.analytics.reply_failed(prompt, refusal.reason, partial=bool(writer.messages))
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
            after_step=trail.after_step,
            tool_calls=len(run.calls),
            sources=trail.sources,
        )
        if writer.refusals:
            self.bot.analytics.reply_failed(
                prompt, writer.refusals[0], partial=False, recovered=True
            )
        if self.bot.settings.feedback_reactions:
            await self._invite_feedback(writer.messages[-1])

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
        after_step: str | None = None,
        tool_calls: int = 0,
        sources: tuple[str, ...] | None = None,
    ) -> None:
        """Log the assistant's half, once the reply is complete on Discord (after tools, as
        the agent run's final response)."""
        ids = tuple(message.id for message in writer.messages)
        self.bot.reply_index.add(ids)
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
            after_step=after_step,
            tool_calls=tool_calls,
            sources=sources,
        )
        self.bot.analytics.assistant_message(prompt, reply)

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
        self.bot.analytics.reply_failed(prompt, str(error.kind), partial=bool(error.partial_text))

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


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Chat(bot))
