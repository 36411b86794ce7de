"""The one Greenflash client, and the calls that turn bot activity into analytics.

This is the only module that reads Greenflash settings from the environment or builds a
Greenflash client (integration plan, step 2). Everything here is fire-and-forget: callers
wrap a coroutine in ``asyncio.create_task`` and hand the task to :meth:`Analytics.keep`,
which holds a reference until it finishes (asyncio only keeps weak ones), bounds how many
run at once, lets users' replies go first (:mod:`bot.runtime.foreground`), and drains them when
the bot closes. A failed call is logged and counted and never reaches a Discord user; the
SDK's own retries (with backoff on 408/409/429/5xx and connection errors) are the only
retries of a call, and while Greenflash cannot be reached at all, calls are held rather
than lost (:mod:`bot.analytics.outage`).

Product ids are passed explicitly on every call and come from the committed
``products.toml``, never from the environment: one codebase may serve several products.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import greenflash
import httpx
from pydantic import Field, SecretStr

from bot.analytics.outage import Reachability, never_sent
from bot.attachments.analytics_fields import (
    attachment_properties,
    greenflash_content,
    greenflash_context,
)
from bot.config.base import EnvSettings
from bot.config.products import ProductConfig
from bot.conversation.exchange import Prompt, Reply, Voice
from bot.runtime.foreground import Foreground

log = logging.getLogger(__name__)

Influence = Literal["positive", "negative", "neutral"]


class GreenflashSettings(EnvSettings):
    """``GREENFLASH_*`` variables. The key is a ``SecretStr``: no repr or log shows it."""

    api_key: SecretStr | None = Field(default=None, validation_alias="GREENFLASH_API_KEY")
    base_url: str | None = Field(default=None, validation_alias="GREENFLASH_BASE_URL")
    timeout: float = Field(default=5.0, ge=0.1, validation_alias="GREENFLASH_TIMEOUT")
    max_retries: int = Field(default=2, ge=0, validation_alias="GREENFLASH_MAX_RETRIES")
    max_in_flight: int = Field(default=8, ge=1, validation_alias="GREENFLASH_MAX_IN_FLIGHT")
    max_pending: int = Field(default=5_000, ge=1, validation_alias="GREENFLASH_MAX_PENDING")
    drain_seconds: float = Field(default=10.0, ge=0.0, validation_alias="GREENFLASH_DRAIN_SECONDS")


def build_client(settings: GreenflashSettings) -> greenflash.AsyncGreenflash | None:
    """An ``AsyncGreenflash`` on the aiohttp transport, or ``None`` when there is no key.

    Build it inside the running event loop: the aiohttp session belongs to the loop that
    first uses it. The timeout is short because nobody waits for these calls.
    """
    if settings.api_key is None:
        return None
    return greenflash.AsyncGreenflash(
        api_key=settings.api_key.get_secret_value(),
        base_url=settings.base_url,
        timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 2.0)),
        max_retries=settings.max_retries,
        http_client=greenflash.DefaultAioHttpClient(),
    )


def describe(error: BaseException) -> str:
    """An error as a log line can show it: the class and status, never request headers."""
    status = getattr(error, "status_code", None)
    if status:
        return f"{type(error).__name__} (HTTP {status})"
    if isinstance(error, greenflash.APIConnectionError):
        outcome = "no connection" if never_sent(error) else "sent, no answer: outcome unknown"
        return f"{type(error).__name__} ({outcome})"
    return type(error).__name__


def _add_attachments(item: dict[str, Any], prompt: Prompt) -> None:
    """The attached files' text as the item's ``context`` (the SDK's place for what the model
    read) and the attachments in its properties. Only names, types, sizes and file text:
    the batch's image bytes are never read here."""
    if context := greenflash_context(prompt.attachments):
        item["context"] = context
    item["properties"] |= attachment_properties(prompt.attachments)


class _SeenCache:
    """Bounded id → name memory, so identifying stays once per process and flat.

    Users are keyed on their account-wide name, never a guild nickname: someone known by
    two nicknames in two guilds is still one person, identified once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._names: OrderedDict[int, str] = OrderedDict()

    def claim(self, key: int, name: str) -> bool:
        """True when ``key`` is new or renamed; records it either way."""
        if self._names.get(key) == name:
            self._names.move_to_end(key)
            return False
        self._names[key] = name
        self._names.move_to_end(key)
        while len(self._names) > self.limit:
            self._names.popitem(last=False)
        return True

    def forget(self, key: int) -> None:
        self._names.pop(key, None)


@dataclass(slots=True)
class AnalyticsStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


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
        self._users = _SeenCache(identity_cache_size)
        self._guilds = _SeenCache(identity_cache_size)
        # Ratings go out once: the SDK retries timeouts, and a rating has no idempotency key.
        self._once = client.with_options(max_retries=0) if client is not None else None

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

    def _spawn(self, call: Awaitable[None]) -> None:
        self.keep(asyncio.create_task(call))  # type: ignore[arg-type]

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
        if self._tasks:
            _, not_done = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in not_done:
                task.cancel()
            await asyncio.gather(*not_done, return_exceptions=True)
            unsent = len(not_done)
        if unsent:
            self.stats.dropped += unsent
            log.warning("greenflash: %d call(s) not sent before shutdown", unsent)
        if self.client is not None:
            await self.client.close()
        log.info(
            "greenflash closed: sent=%d failed=%d dropped=%d",
            self.stats.sent,
            self.stats.failed,
            self.stats.dropped,
        )
        return unsent

    # -- messages -------------------------------------------------------------------------

    def _voice(self, prompt: Prompt) -> Voice:
        """The persona and model in effect where the prompt was asked: each persona's whole
        system prompt is its own prompt version in Greenflash, each model its own model."""
        return prompt.voice or Voice(self.model, self.system_prompt)

    def _conversation_fields(self, prompt: Prompt) -> dict[str, Any]:
        voice = self._voice(prompt)
        fields: dict[str, Any] = {
            "external_user_id": str(prompt.user_id),
            "external_conversation_id": str(prompt.channel_id),
            "model": voice.model,
            "system_prompt": voice.system_prompt,
            "properties": {
                "platform": "discord",
                "channel_name": prompt.channel_name,
                "persona": voice.persona,
                **({"guild_name": prompt.guild_name} if prompt.guild_name else {}),
            },
        }
        if prompt.guild_id is not None:
            fields["external_organization_id"] = str(prompt.guild_id)
        return fields

    def _destination(self, guild_id: int | None) -> tuple[greenflash.AsyncGreenflash, str] | None:
        """The client and the guild's product, or ``None`` when analytics are off for it."""
        product_id = self.products.product_for(guild_id)
        if self.client is None or product_id is None:
            return None
        return self.client, product_id

    async def _create_message(self, prompt: Prompt, item: dict[str, Any], model: str) -> None:
        destination = self._destination(prompt.guild_id)
        if destination is None:
            return
        client, product_id = destination
        fields = self._conversation_fields(prompt) | {"model": model}
        await self._send(
            f"{item['role']} message",
            fields["external_conversation_id"],
            lambda: client.messages.create(product_id=product_id, messages=[item], **fields),
        )

    async def log_user_message(self, prompt: Prompt) -> None:
        """The receiving side's half of Pattern B; also identifies the user and guild."""
        self.identify(prompt)
        item = {
            "role": "user",
            "content": greenflash_content(prompt.text, prompt.attachments),
            "external_message_id": str(prompt.message_id),
            "created_at": prompt.created_at,
            "properties": {
                "trigger": str(prompt.trigger),
                "truncated": prompt.truncated,
                "discord_user_id": str(prompt.user_id),
                "discord_user_name": prompt.user_name,
            },
        }
        _add_attachments(item, prompt)
        await self._create_message(prompt, item, self._voice(prompt).model)

    async def log_assistant_message(self, prompt: Prompt, reply: Reply) -> None:
        """The chat cog's half of Pattern B, threaded to the prompt it answers."""
        item = {
            "role": "assistant",
            "content": reply.text,
            "external_message_id": str(reply.message_id),
            "parent_external_message_id": str(prompt.message_id),
            "created_at": reply.created_at,
            "model": reply.model,
            "properties": {
                "trigger": str(prompt.trigger),
                "latency_ms": reply.latency_ms,
                "prompt_tokens": reply.usage.prompt_tokens,
                "completion_tokens": reply.usage.completion_tokens,
                "discord_messages": len(reply.message_ids),
                "cut_off": reply.cut_off,
                "finish_reason": reply.finish_reason,
                "refusal": reply.refused,
                "in_reply_to_user_id": str(prompt.user_id),
                "in_reply_to_user_name": prompt.user_name,
                "delivery": reply.delivery,
                **({"images_dropped": True} if reply.images_dropped else {}),
            },
        }
        await self._create_message(prompt, item, reply.model)

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
        client = self.client
        assert client is not None
        sent = await self._send(
            "user identify",
            str(prompt.channel_id),
            lambda: client.users.create(
                external_user_id=str(prompt.user_id),
                name=prompt.account_name,
                properties={"username": prompt.username, "platform": "discord"},
            ),
        )
        if not sent:
            self._users.forget(prompt.user_id)

    async def _identify_guild(self, guild_id: int, name: str) -> None:
        client = self.client
        assert client is not None
        sent = await self._send(
            "organization identify",
            None,
            lambda: client.organizations.create(
                external_organization_id=str(guild_id),
                name=name,
                properties={"platform": "discord"},
            ),
        )
        if not sent:
            self._guilds.forget(guild_id)

    # -- feedback and outcomes ------------------------------------------------------------

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
        retries are off for it (they re-send timeouts) and the outage hold re-sends only
        what never reached Greenflash (:mod:`bot.analytics.outage`); a rating whose outcome is
        unknown counts as failed."""
        destination = self._destination(guild_id)
        if destination is None or self._once is None:
            return
        client, product_id = self._once, destination[1]
        optional: dict[str, str] = {}
        if message_id is not None:
            optional["external_message_id"] = str(message_id)
        if feedback:
            optional["feedback"] = feedback
        await self._send(
            "rating",
            str(conversation_id),
            lambda: client.ratings.log(
                product_id=product_id,
                rating=rating,
                rating_min=rating_min,
                rating_max=rating_max,
                rated_at=rated_at,
                external_conversation_id=str(conversation_id),
                **optional,
            ),
        )

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
        destination = self._destination(guild_id)
        if destination is None:
            return
        client, product_id = destination
        optional: dict[str, str] = {}
        if guild_id is not None:
            optional["external_organization_id"] = str(guild_id)
        if user_id is not None:
            optional["external_user_id"] = str(user_id)
        await self._send(
            f"{event_type} event",
            str(conversation_id),
            lambda: client.events.create(
                event_type=event_type,
                product_id=product_id,
                value=value,
                influence=influence,
                external_conversation_id=str(conversation_id),
                event_at=event_at,
                insert_id=f"{event_type}:{source_id}",
                properties=properties or {},
                **optional,
            ),
        )
