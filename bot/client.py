"""The discord.py client: the receiving side of every conversation.

``on_message`` decides whether a message is addressed to the bot; :meth:`ChatBot.accept`,
which ``/ask`` calls too, runs the receiving steps both share (cooldown, the persona and
model in effect, the user's half of the exchange logged to Greenflash, the daily budget)
and hands the prompt to the chat cog, which produces the reply. That hand-off is the one
explicit call ``self.chat.answer``; the bot names the cog only through the
:class:`~bot.replies.producer.ReplyProducer` protocol, so ``bot/`` never imports ``cogs/``.

The client is always an ``AutoShardedBot``: with no shard settings it asks Discord for the
recommended count, and with ``SHARD_COUNT``/``SHARD_IDS`` each worker runs its own slice.
Nothing here keeps per-guild state outside discord.py's cache, so guilds spread across
processes need no coordination.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import discord
from discord.ext import commands

from bot.agent.config import AgentSettings
from bot.agent.loop import Agent
from bot.agent.toolbox import Toolbox
from bot.analytics.agent_trail import AgentTrail
from bot.analytics.calls import Analytics
from bot.analytics.insights import InsightsReader
from bot.attachments.config import AttachmentSettings
from bot.attachments.download import DISCORD_CDN_ORIGINS, AttachmentFetcher, Origin
from bot.attachments.kinds import AttachmentBatch
from bot.config.products import ProductConfig
from bot.config.settings import Settings
from bot.conversation.admins import is_admin
from bot.conversation.exchange import Prompt, Trigger, Voice
from bot.conversation.notices import BUDGET_REACHED, COOLDOWN, EMPTY_MENTION, STICKERS_ONLY
from bot.conversation.personas import voice_of
from bot.conversation.thread_names import thread_name
from bot.conversation.triggers import classify, prompt_from_message
from bot.greenflash_client import GreenflashSettings, build_client
from bot.knowledge.config import KnowledgeSettings
from bot.knowledge.desk import KnowledgeDesk, Lookup, Scope, briefed
from bot.llm import ChatModel
from bot.replies.index import ReplyIndex
from bot.replies.producer import Arrival, ReplyProducer
from bot.replies.threads import ThreadTarget
from bot.replies.writer import MessageTarget, ReplyRefused, ReplyWriter
from bot.runtime import command_sync, discord_patches
from bot.runtime.command_tree import ChatCommandTree
from bot.runtime.foreground import Foreground
from bot.runtime.loop_watchdog import LoopWatchdog
from bot.runtime.request_budget import RequestBudget
from bot.runtime.uncancelled import uncancelled
from bot.storage import SchemaState, Storage, StorageConfig, describe
from bot.storage.knowledge import KnowledgeStore

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.chat", "cogs.commands", "cogs.feedback", "cogs.assistant", "cogs.insights",
    "cogs.knowledge",
)
# How long a DM question waits for Discord to say whether its author is in a server.
MEMBER_SECONDS = 3.0
# The questions that open a thread where a channel wants one: asked in the channel itself.
# A reply to the bot goes on where its answer is.
OPENS_THREAD = frozenset({Trigger.MENTION, Trigger.CHAT_CHANNEL})


class SchemaRefused(Exception):
    """The database's schema is not the one this release knows: the one line to exit on."""


def build_intents(settings: Settings) -> discord.Intents:
    """Only what the bot uses: messages and reactions in guilds and DMs, no member lists."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    intents.message_content = settings.message_content_intent
    return intents


class ChatBot(commands.AutoShardedBot):
    def __init__(
        self,
        settings: Settings,
        *,
        products: ProductConfig,
        greenflash_settings: GreenflashSettings,
        storage: StorageConfig,
        attachments: AttachmentSettings,
        agent: AgentSettings,
        knowledge: KnowledgeSettings | None = None,
        attachment_origins: Iterable[Origin] = DISCORD_CDN_ORIGINS,
        toolbox: Toolbox | None = None,
    ) -> None:
        """``attachment_origins``: where attachment bytes may be fetched from; Discord's CDN
        hosts unless a test points the bot at its stand-in. ``toolbox``: the agent's tools,
        unless a test brings its own search and page stand-ins."""
        discord_patches.apply()
        # Counts every 401/403/429 discord.py receives, retried 429s included.
        self.request_budget = RequestBudget()
        # Given only when set: discord.py's default (None) asks Discord for the slice.
        shard_ids: dict[str, Any] = (
            {"shard_ids": list(settings.shard_ids)} if settings.shard_ids else {}
        )
        super().__init__(
            http_trace=self.request_budget.trace_config(),
            command_prefix=commands.when_mentioned,
            help_command=None,
            tree_cls=ChatCommandTree,
            intents=build_intents(settings),
            allowed_mentions=discord.AllowedMentions.none(),
            activity=discord.Activity(type=discord.ActivityType.listening, name="/ask"),
            shard_count=settings.shard_count,
            **shard_ids,
        )
        self.settings = settings
        self.cooldowns: commands.CooldownMapping[Prompt] = commands.CooldownMapping(
            commands.Cooldown(settings.cooldown_rate, settings.cooldown_seconds),
            lambda prompt: prompt.user_id,
        )
        self.accepting = True
        self.watchdog = LoopWatchdog(settings.loop_stall_seconds)
        self._shutdown: asyncio.Task[None] | None = None
        # Both SDKs open their HTTP sessions lazily, on first use inside the running loop.
        self.model = ChatModel(settings)
        self.attachments = AttachmentFetcher(attachments, origins=attachment_origins)
        self.vision = attachments.vision_for(settings.model)
        self.foreground = Foreground()
        self.analytics = Analytics(
            build_client(greenflash_settings),
            products,
            model=settings.model,
            system_prompt=settings.system_prompt,
            settings=greenflash_settings,
            foreground=self.foreground,
        )
        # What the admins' commands read back from Greenflash, on the same client.
        self.insights = InsightsReader(
            self.analytics.client,
            time_limit=greenflash_settings.insights_timeout,
            ttl=greenflash_settings.insights_cache_seconds,
        )
        self.storage = Storage(storage)
        self.analytics.use_outbox(self.storage.outbox)
        self.reply_index = ReplyIndex()
        self.agent_settings = agent
        self.toolbox = toolbox or Toolbox(agent)
        knowledge = knowledge or KnowledgeSettings()
        self.knowledge = KnowledgeDesk(KnowledgeStore.sharing(self.storage, knowledge), knowledge)

    async def setup_hook(self) -> None:
        self.watchdog.start()
        reason = self.analytics.disabled_reason()
        if reason:
            log.warning("Greenflash analytics are off: %s", reason)
        await self._prepare_storage()
        self.analytics.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await command_sync.sync_if_changed(self.tree)

    async def _prepare_storage(self) -> None:
        """A schema this release does not know (or one ``migrate`` has not brought up to
        date) stops the start; a database that does not answer does not: the bot then
        runs on the defaults and the storage logs its one warning."""
        state = await self.storage.prepare()
        where = describe(self.storage.url)
        if state is SchemaState.UNKNOWN:
            raise SchemaRefused(
                f"the database ({where}) has a schema this release does not know: deploy "
                "the release that made it, or downgrade it first"
            )
        if state is SchemaState.BEHIND:
            raise SchemaRefused(
                f"the database ({where}) needs its migrations: run `python -m bot migrate`"
            )

    async def voice_for(
        self, guild_id: int | None, channel_id: int, parent_id: int | None
    ) -> Voice:
        """The persona and model in effect in a channel (a thread passes its parent),
        read through the storage's cache."""
        settings = await self.storage.settings_for(guild_id, channel_id, parent_id)
        return voice_of(settings, self.settings.system_prompt, guild_id)

    async def in_effect(self, prompt: Prompt, author: discord.abc.User) -> Prompt:
        """The prompt with the voice in effect where it was asked, and whether its author
        may change it."""
        return replace(
            prompt,
            voice=await self.voice_for(prompt.guild_id, prompt.channel_id, prompt.parent_id),
            admin=is_admin(author, self.storage.config.admin_role),
        )

    async def agent_for(
        self, arrival: Arrival, prompt: Prompt, voice: Voice, trail: AgentTrail
    ) -> tuple[Agent, Voice]:
        """The agent for one question and the voice it answers in: the tools act for who
        asked, where they asked (none when ``TOOLS=off`` or the model server refused them);
        where knowledge is on, the best passages for the question are searched up front
        (logged on ``trail``) and given with the voice's prompt, for this question only."""
        lookup = Lookup(self.knowledge, await self._knowledge_scope(prompt, arrival.author))
        trail.lookup = lookup
        search = None
        if lookup.scope.up_front and prompt.text.strip():
            search = await lookup.search(prompt.text)
            trail.retrieval(search, discord.utils.utcnow())
        if lookup.scope.guild_ids:
            voice = briefed(voice, search)
        tools = (
            self.toolbox.tools_for(self, arrival.author, arrival.channel, lookup)
            if self.model.offers_tools else []
        )
        agent = Agent(self.model, tools, max_rounds=self.agent_settings.max_steps,
                      tool_timeout=self.agent_settings.tool_timeout)
        return agent, voice

    async def _knowledge_scope(self, prompt: Prompt, author: discord.abc.User) -> Scope:
        """A server's question: that server's knowledge. A DM: the servers the author shares
        with the bot (asked of Discord when not cached, bounded) that allow DM knowledge."""
        if prompt.guild_id is not None:
            places = [prompt.channel_id, *([prompt.parent_id] if prompt.parent_id else [])]
            return await self.knowledge.scope(prompt.guild_id, places)
        allowing = await self.knowledge.dm_guilds([guild.id for guild in self.guilds])
        shared = [gid for gid in allowing if await self._is_member(gid, author.id)]
        return self.knowledge.dm_scope(shared)

    async def _is_member(self, guild_id: int, user_id: int) -> bool:
        guild = self.get_guild(guild_id)
        if guild is None:
            return False
        if guild.get_member(user_id) is not None:
            return True
        try:
            async with asyncio.timeout(MEMBER_SECONDS):
                await uncancelled(guild.fetch_member(user_id))
        except discord.NotFound:
            return False
        except (discord.HTTPException, TimeoutError) as error:
            log.info("could not tell whether %s is in guild %s: %s", user_id, guild_id, error)
            return False
        return True

    @property
    def chat(self) -> ReplyProducer:
        """The cog that produces replies (``cogs/chat.py``)."""
        cog = self.get_cog("Chat")
        if not isinstance(cog, ReplyProducer):
            raise RuntimeError("the chat cog is not loaded")
        return cog

    def retry_after(self, prompt: Prompt) -> float | None:
        """discord.py's per-user cooldown, shared by messages and ``/ask``."""
        bucket = self.cooldowns.get_bucket(prompt)
        return bucket.update_rate_limit() if bucket else None

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (id %s) in %d guild(s)",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )

    async def on_message(self, message: discord.Message) -> None:
        """Receive: decide whether the message is addressed to the bot, then accept it."""
        if not self.accepting or self.user is None:
            return
        trigger = classify(message, self.user, self.settings)
        if trigger is None:
            return
        prompt = prompt_from_message(message, trigger, self.user.id, self.settings.max_prompt_chars)
        if not prompt.text and not prompt.attachment_refs:
            await self._answer_empty(message, trigger)
            return
        await self.accept(prompt, message.author, await self._arrival(message, prompt))

    async def _arrival(self, message: discord.Message, prompt: Prompt) -> Arrival:
        """Where the answer goes: a thread of its own for a question asked in a channel
        that opens threads (``/threads on``, else ``THREAD_CHANNEL_IDS``), else a reply."""
        inside = prompt.parent_id is not None or prompt.guild_id is None
        if inside or prompt.trigger not in OPENS_THREAD:
            return MessageTarget(message)
        here = await self.storage.settings_for(prompt.guild_id, prompt.channel_id)
        if not here.opens_threads(prompt.channel_id, self.settings.thread_channel_ids):
            return MessageTarget(message)
        return ThreadTarget(
            message,
            name=thread_name(prompt.text),
            archive_minutes=self.settings.thread_archive_minutes,
        )

    async def accept(self, prompt: Prompt, author: discord.abc.User, arrival: Arrival) -> None:
        """The receiving steps every prompt goes through, whichever way it arrived: the
        per-user cooldown, acknowledging it, the persona and model in effect, the user's
        half logged to Greenflash (once its attachments are read), the daily budget, and
        the hand-off to the chat cog."""
        retry = self.retry_after(prompt)
        if retry:
            await arrival.refuse(COOLDOWN.format(seconds=retry), for_seconds=retry)
            return
        await arrival.acknowledge()
        if isinstance(arrival, ThreadTarget):
            prompt = arrival.placed(prompt)
        if prompt.truncated:
            log.info("prompt truncated to %d chars: message=%s", len(prompt.text),
                     prompt.message_id)
        prompt = await self.in_effect(prompt, author)
        read = asyncio.create_task(self._read_attachments(prompt))
        self.analytics.user_message(read)
        if await self._over_budget(prompt, arrival):
            return
        await self.chat.answer(prompt, arrival, read)

    async def _over_budget(self, prompt: Prompt, arrival: Arrival) -> bool:
        """Past today's budget: the notice instead of a reply (admins exempt when the
        operator says so), and a negative ``daily_budget_reached`` event. Checked after the
        question is logged, so Greenflash shows what was refused. A budget the database
        could not check is not enforced (:meth:`Storage.check_budget`)."""
        storage = self.storage
        if prompt.admin and storage.config.budget_exempt_admins:
            return False
        check = await storage.check_budget(prompt.guild_id, prompt.user_id)
        if not check.over or check.usage is None:
            return False
        notice = BUDGET_REACHED.format(resets=int(check.resets_at.timestamp()))
        try:
            await ReplyWriter(arrival).finish(notice)
        except ReplyRefused as refusal:
            log.warning("could not post the budget notice in channel %s to %s: %s",
                        prompt.channel_id, prompt.message_id, refusal)
            self.analytics.reply_failed(prompt, refusal.reason, partial=False)
        self.analytics.prompt_outcome(
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

    async def _read_attachments(self, prompt: Prompt) -> Prompt:
        """The prompt with its attachments downloaded: the question's, then the replied
        message's with the images left of the budget (the question's come first)."""
        if not prompt.attachment_refs and not prompt.replied_refs:
            return prompt
        own = await self.attachments.fetch(prompt.attachment_refs, vision=self.vision)
        replied = await self.attachments.fetch(
            prompt.replied_refs,
            vision=self.vision,
            max_images=self.attachments.settings.max_images - len(own.images),
        ) if prompt.replied_refs else AttachmentBatch()
        return replace(prompt, attachments=AttachmentBatch(own.items + replied.items))

    async def _answer_empty(self, message: discord.Message, trigger: Trigger) -> None:
        """Stickers alone get told we cannot read them; a bare mention gets a hint; an empty
        message in a chat channel (an embed, a sticker-less join) is ignored."""
        if message.stickers:
            await MessageTarget(message).refuse(STICKERS_ONLY)
        elif trigger in (Trigger.MENTION, Trigger.REPLY, Trigger.DM):
            await MessageTarget(message).refuse(EMPTY_MENTION)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        if self.settings.guild_allowed(guild.id):
            self.analytics.identify_guild(guild.id, guild.name)

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        if before.name != after.name and self.settings.guild_allowed(after.id):
            self.analytics.identify_guild(after.id, after.name)

    async def close(self) -> None:
        """Stop taking messages, let replies finish, drain analytics, then disconnect.

        Bounded throughout so the whole sequence fits in Heroku's 30 s SIGTERM grace.
        """
        if self._shutdown is None:
            self._shutdown = asyncio.create_task(self._close_once())
        await asyncio.shield(self._shutdown)

    async def _close_once(self) -> None:
        self.accepting = False
        if isinstance(self.get_cog("Chat"), ReplyProducer):
            await self.chat.drain(self.settings.shutdown_grace_seconds / 2)
        await self.analytics.close()
        await self.model.close()
        await self.storage.close()
        await self.attachments.close()
        await self.toolbox.close()
        await super().close()
        self.watchdog.stop()
        budget = self.request_budget
        log.info(
            "closed: %d invalid Discord requests (401/403/429) in the last %.0f minutes "
            "(Discord's limit %d), %d since start; longest event-loop stall %.2fs",
            budget.count(), budget.window / 60, budget.limit, budget.total,
            self.watchdog.longest_stall,
        )
