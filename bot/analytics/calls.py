"""The calls that turn bot activity into Greenflash analytics, fire-and-forget.

Every public call schedules itself: it creates its task and keeps it until it finishes
(asyncio keeps only weak references), so no caller writes ``create_task``. Calls run a
bounded number at a time, after users' replies (:mod:`bot.runtime.foreground`), and are
drained when the bot closes. A failed call is logged and counted, never shown to a user;
the SDK's own retries are the only ones, and while Greenflash cannot be reached calls are
held rather than lost (:mod:`bot.analytics.outage`). With the bot's database behind it
(:meth:`Analytics.use_outbox`), a call is written down before it is sent and survives the
process (:mod:`bot.analytics.outbox`). Product ids come from the committed
``products.toml`` and are passed on every call, never read from the environment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Literal

import greenflash
from greenflash.types import MessageItemParam

from bot.analytics.items import assistant_item, conversation_fields, user_item
from bot.analytics.outage import Reachability
from bot.analytics.outbox import AnalyticsStats, Method, Outbox, methods_of
from bot.analytics.seen import SeenCache
from bot.config.products import ProductConfig
from bot.conversation.exchange import Prompt, Reply, Voice
from bot.conversation.personas import default_voice
from bot.greenflash_client import GreenflashSettings, describe
from bot.runtime.foreground import Foreground
from bot.storage import OutboxStore

log = logging.getLogger(__name__)

Influence = Literal["positive", "negative", "neutral"]
Kind = Literal["message", "user", "organization", "rating", "event"]


class Analytics:
    """Greenflash logging for the bot. With no client or no product it does nothing."""

    def __init__(
        self,
        client: greenflash.AsyncGreenflash | None,
        products: ProductConfig,
        *,
        model: str,
        system_prompt: str,
        settings: GreenflashSettings,
        foreground: Foreground | None = None,
        identity_cache_size: int = 10_000,
    ) -> None:
        self.client = client
        self.products = products
        self.model = model
        self.system_prompt = system_prompt
        self.settings = settings
        self.stats = AnalyticsStats()
        self.foreground = foreground or Foreground()
        self.reachability = Reachability()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._users = SeenCache(identity_cache_size)
        self._guilds = SeenCache(identity_cache_size)
        self._methods: dict[str, Method] = methods_of(client) if client is not None else {}
        self.outbox: Outbox | None = None

    def use_outbox(self, store: OutboxStore) -> None:
        """Write every call down before sending it, unless ``GREENFLASH_OUTBOX=off`` or
        analytics are off; :meth:`start` starts its writer and sender."""
        if self.enabled and self.settings.outbox:
            self.outbox = Outbox(
                store, self._methods, self.settings, foreground=self.foreground,
                reachability=self.reachability, stats=self.stats,
            )

    def start(self) -> None:
        if self.outbox is not None:
            self.outbox.start()

    @property
    def enabled(self) -> bool:
        return self.client is not None and self.products.configured

    def disabled_reason(self) -> str | None:
        if self.client is None:
            return "GREENFLASH_API_KEY is not set"
        if not self.products.configured:
            return "no Greenflash product id in bot/config/products.toml"
        return None

    @property
    def pending(self) -> int:
        return len(self._tasks)

    # -- task machinery -------------------------------------------------------------------

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold ``task`` until it finishes; past ``max_pending`` drop it, so a burst
        during an outage costs a counted loss rather than unbounded memory. After
        :meth:`close` the client is gone, so late calls are dropped and counted too."""
        if self._closed or len(self._tasks) >= self.settings.max_pending:
            task.cancel()
            self.stats.dropped += 1
            reason = "closed" if self._closed else f"backlog full ({self.pending} pending)"
            log.warning("greenflash %s: dropped a call", reason)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn(self, call: Coroutine[Any, Any, None]) -> None:
        self.keep(asyncio.create_task(call))

    async def _call(
        self, what: str, conversation_id: str | None, kind: Kind, arguments: dict[str, Any]
    ) -> bool:
        """Into the outbox when there is one, else sent from memory; True once the call is
        written down or sent."""
        if self.outbox is not None:
            self.outbox.put(kind, arguments)
            return True
        method = self._methods[kind]
        return await self._send(what, conversation_id, lambda: method(**arguments))

    async def _send(
        self, what: str, conversation_id: str | None, call: Callable[[], Awaitable[Any]]
    ) -> bool:
        await self.foreground.idle()
        async with self._slots:
            try:
                await self.reachability.call(call)
            except greenflash.APIError as error:
                self.stats.failed += 1
                log.warning(
                    "greenflash %s failed: %s conversation=%s",
                    what,
                    describe(error),
                    conversation_id,
                )
                return False
            except Exception:
                self.stats.failed += 1
                log.exception("greenflash %s crashed: conversation=%s", what, conversation_id)
                return False
        self.stats.sent += 1
        return True

    async def close(self, grace: float | None = None) -> int:
        """Give pending calls ``grace`` seconds, then report and drop the rest.

        Returns how many calls could not be sent.
        """
        grace = self.settings.drain_seconds if grace is None else grace
        self._closed = True
        unsent = 0
        deadline = asyncio.get_running_loop().time() + grace
        if self._tasks:
            _, not_done = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in not_done:
                task.cancel()
            await asyncio.gather(*not_done, return_exceptions=True)
            unsent = len(not_done)
        if unsent:
            self.stats.dropped += unsent
            log.warning("greenflash: %d call(s) not sent before shutdown", unsent)
        waiting = ""
        if self.outbox is not None:
            left = await self.outbox.close(max(0.0, deadline - asyncio.get_running_loop().time()))
            waiting = f"; {'an unknown number of' if left is None else left} call(s) wait in " \
                "the outbox for the next start"
        if self.client is not None:
            await self.client.close()
        log.info(
            "greenflash closed: sent=%d failed=%d dropped=%d dead=%d%s",
            self.stats.sent, self.stats.failed, self.stats.dropped, self.stats.dead, waiting,
        )
        return unsent

    # -- messages -------------------------------------------------------------------------

    def _voice(self, prompt: Prompt) -> Voice:
        """The persona and model in effect where the prompt was asked."""
        return prompt.voice or default_voice(self.model, self.system_prompt)

    def _destination(self, guild_id: int | None) -> str | None:
        """The guild's product, or ``None`` when analytics are off for it."""
        return None if self.client is None else self.products.product_for(guild_id)

    async def _create_message(self, prompt: Prompt, item: MessageItemParam, model: str) -> None:
        product_id = self._destination(prompt.guild_id)
        if product_id is None:
            return
        fields = conversation_fields(prompt, self._voice(prompt)) | {"model": model}
        what = f"{item.get('role') or item.get('message_type')} message"
        await self._call(what, fields["external_conversation_id"], "message",
                         {"product_id": product_id, "messages": [item], **fields})

    def user_message(self, prompt: Prompt | Awaitable[Prompt]) -> None:
        """The receiving side's half of Pattern B. ``prompt`` may still be reading its
        attachments: the question is logged once they are read (its ``created_at`` is
        Discord's, so Greenflash still orders it before the answer); the wait is shielded,
        so a reply cancelled meanwhile does not cancel its question's log."""
        self._spawn(self.log_user_message(prompt))

    async def log_user_message(self, prompt: Prompt | Awaitable[Prompt]) -> None:
        """:meth:`user_message`, awaited; also identifies the user and guild."""
        if not isinstance(prompt, Prompt):
            prompt = await asyncio.shield(prompt)
        self.identify(prompt)
        await self._create_message(prompt, user_item(prompt), self._voice(prompt).model)

    def assistant_message(self, prompt: Prompt, reply: Reply) -> None:
        """The chat cog's half of Pattern B, threaded to the prompt it answers."""
        self._spawn(self.log_assistant_message(prompt, reply))

    async def log_assistant_message(self, prompt: Prompt, reply: Reply) -> None:
        """:meth:`assistant_message`, awaited."""
        await self._create_message(prompt, assistant_item(prompt, reply), reply.model)

    def agent_step(self, prompt: Prompt, item: MessageItemParam, model: str) -> None:
        """One step of an agent run (:mod:`bot.analytics.agent_trail`), as it happens."""
        self._spawn(self._create_message(prompt, item, model))

    # -- identification -------------------------------------------------------------------

    def identify(self, prompt: Prompt) -> None:
        """Identify the user, and the guild, the first time this process sees them."""
        if not self.enabled:
            return
        if self._users.claim(prompt.user_id, prompt.account_name):
            self._spawn(self._identify_user(prompt))
        if prompt.guild_id is not None and prompt.guild_name is not None:
            self.identify_guild(prompt.guild_id, prompt.guild_name)

    def identify_guild(self, guild_id: int, name: str) -> None:
        """Once per guild per process, and again whenever its name changes."""
        if self.enabled and self._guilds.claim(guild_id, name):
            self._spawn(self._identify_guild(guild_id, name))

    async def _identify_user(self, prompt: Prompt) -> None:
        sent = await self._call("user identify", str(prompt.channel_id), "user", {
            "external_user_id": str(prompt.user_id),
            "name": prompt.account_name,
            "properties": {"username": prompt.username, "platform": "discord"},
        })
        if not sent:
            self._users.forget(prompt.user_id)

    async def _identify_guild(self, guild_id: int, name: str) -> None:
        sent = await self._call("organization identify", None, "organization", {
            "external_organization_id": str(guild_id),
            "name": name,
            "properties": {"platform": "discord"},
        })
        if not sent:
            self._guilds.forget(guild_id)

    # -- feedback and outcomes ------------------------------------------------------------

    def rating(
        self,
        *,
        guild_id: int | None,
        conversation_id: int,
        rating: float,
        rating_min: float,
        rating_max: float,
        rated_at: datetime,
        message_id: int | None = None,
        feedback: str | None = None,
    ) -> None:
        """:meth:`rate`, scheduled."""
        self._spawn(self.rate(
            guild_id=guild_id, conversation_id=conversation_id, rating=rating,
            rating_min=rating_min, rating_max=rating_max, rated_at=rated_at,
            message_id=message_id, feedback=feedback,
        ))

    async def rate(
        self,
        *,
        guild_id: int | None,
        conversation_id: int,
        rating: float,
        rating_min: float,
        rating_max: float,
        rated_at: datetime,
        message_id: int | None = None,
        feedback: str | None = None,
    ) -> None:
        """A rating of one reply (``message_id``) or of the whole channel conversation.

        ``rated_at`` is when the person acted: calls can land out of order (a reaction on an
        old reply is traced through Discord first), and the latest rating is the one that
        counts.

        Sent at most once per call: Greenflash has no idempotency key for ratings, so a
        rating that reached Greenflash and was re-sent would be stored twice. The SDK's
        retries are off for it (they re-send timeouts); the outage hold and the outbox
        re-send only what never reached Greenflash (:mod:`bot.analytics.outage`,
        :mod:`bot.analytics.outbox`); a rating whose outcome is unknown counts as failed."""
        product_id = self._destination(guild_id)
        if product_id is None:
            return
        arguments: dict[str, Any] = {
            "product_id": product_id, "rating": rating, "rating_min": rating_min,
            "rating_max": rating_max, "rated_at": rated_at,
            "external_conversation_id": str(conversation_id),
        }
        if message_id is not None:
            arguments["external_message_id"] = str(message_id)
        if feedback:
            arguments["feedback"] = feedback
        await self._call("rating", str(conversation_id), "rating", arguments)

    def prompt_deleted(
        self,
        *,
        guild_id: int | None,
        channel_id: int,
        message_id: int,
        author_id: int | None,
        deleted_at: datetime,
    ) -> None:
        """A logged prompt deleted before its reply: a neutral ``prompt_deleted`` event, so
        the conversation in Greenflash explains the missing answer. Discord does not say
        who deleted a message; ``author_id`` is its author when discord.py still has it."""
        self._spawn(
            self.record_event(
                "prompt_deleted",
                guild_id=guild_id,
                conversation_id=channel_id,
                user_id=author_id,
                source_id=message_id,
                influence="neutral",
                value="deleted before the reply",
                occurred_at=deleted_at,
            )
        )

    def prompt_outcome(
        self,
        prompt: Prompt,
        event_type: str,
        *,
        influence: Influence,
        value: str,
        properties: dict[str, object],
    ) -> None:
        """An outcome of one prompt, in its conversation, at the prompt's time, keyed on
        its id: fire-and-forget like every call here."""
        self._spawn(
            self.record_event(
                event_type,
                guild_id=prompt.guild_id,
                conversation_id=prompt.channel_id,
                user_id=prompt.user_id,
                source_id=prompt.message_id,
                influence=influence,
                value=value,
                properties=properties,
                occurred_at=prompt.created_at,
            )
        )

    def reply_failed(
        self, prompt: Prompt, reason: str, *, partial: bool, recovered: bool = False
    ) -> None:
        """A negative ``reply_failed`` event: the model failed, or Discord refused part of
        the reply (``message_deleted``, ``discord_refused``; ``recovered`` when the rest
        still got through). The one sender of every ``reply_failed``."""
        recovery: dict[str, object] = {"recovered": True} if recovered else {}
        properties = {"partial": partial, **recovery}
        self._spawn(self.record_event(
            "reply_failed",
            guild_id=prompt.guild_id,
            conversation_id=prompt.channel_id,
            user_id=prompt.user_id,
            source_id=prompt.message_id,
            influence="negative",
            value=reason,
            properties=properties,
        ))

    def command_event(
        self,
        event_type: str,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        interaction_id: int,
        value: str,
        at: datetime,
        properties: dict[str, object] | None = None,
    ) -> None:
        """A neutral outcome of a slash command (``conversation_reset``,
        ``persona_changed``, ``model_changed``) in the channel's conversation, keyed on the
        interaction and stamped with its time."""
        self._spawn(self.record_event(
            event_type,
            guild_id=guild_id,
            conversation_id=channel_id,
            user_id=user_id,
            source_id=interaction_id,
            influence="neutral",
            value=value,
            properties=properties,
            occurred_at=at,
        ))

    async def record_event(
        self,
        event_type: str,
        *,
        guild_id: int | None,
        conversation_id: int,
        user_id: int | None,
        source_id: int,
        influence: Influence,
        value: str,
        properties: dict[str, object] | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        """An outcome tied to a conversation. ``insert_id`` is derived from the Discord id
        that caused it, so a retried call cannot count the outcome twice.

        ``event_at`` is ``occurred_at``, the Discord time of what caused the event, else
        the moment this is called (before the call can wait in the outage hold), so an
        event held through an outage keeps the time it happened."""
        event_at = occurred_at or datetime.now(UTC)
        product_id = self._destination(guild_id)
        if product_id is None:
            return
        arguments: dict[str, Any] = {
            "event_type": event_type, "product_id": product_id, "value": value,
            "influence": influence, "external_conversation_id": str(conversation_id),
            "event_at": event_at, "insert_id": f"{event_type}:{source_id}",
            "properties": properties or {},
        }
        if guild_id is not None:
            arguments["external_organization_id"] = str(guild_id)
        if user_id is not None:
            arguments["external_user_id"] = str(user_id)
        await self._call(f"{event_type} event", str(conversation_id), "event", arguments)
