"""Reading back what Greenflash learned, for the admins' commands: bounded, cached, quiet.

Someone is waiting on a slash command for every read here, so each read has one time limit
for all the requests it makes, and the client copy it uses has that timeout per request and
no retries: a retry would stretch the wait past the limit, and the admin can simply ask
again. Nothing here is on the reply path.

Answers Greenflash gave (figures, the plan refusal, "nothing yet") are cached per key for a
TTL, so repeated commands cost nothing; failures to get an answer (a time-out, no
connection, anything else) are not, so the next command tries again. Every failure becomes
one :class:`Outcome` with one sentence for the admin: never a traceback, never the key.

How things are addressed (greenflash 1.4, ``resources/*.py``):

* ``organizations.get_organization_analytics`` takes Greenflash's own organization id ("The
  organization ID to get analytics for"), unlike ``organizations.update``, whose path takes
  "Your external organization ID". The guild id (our external id) is turned into
  Greenflash's id through ``organizations.list`` (read-only: ``organizations.create`` would
  write on a read path), and the pairs are kept for the process's life: they never change.
* ``inbox.list`` has no organization filter and its items carry Greenflash's conversation
  id only; ``interactions.get`` tells that conversation's external id (the channel) and
  organization (the guild), kept for the process's life too; ``inbox.get`` gives the
  severity, which the list lacks, for this guild's items.
* ``prompts.get_prompt_analytics`` takes Greenflash's prompt id; ``prompts.get`` accepts our
  ``external_prompt_id`` and returns it.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import greenflash

from bot.analytics.outage import never_sent
from bot.greenflash_client import describe

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 100  # organizations.list's largest page


class Outcome(enum.Enum):
    READ = "read"
    OFF = "off"
    PLAN = "plan"
    NOTHING_YET = "nothing yet"
    TIMED_OUT = "timed out"
    UNREACHABLE = "unreachable"
    FAILED = "failed"


SENTENCES: dict[Outcome, str] = {
    Outcome.OFF: "Analytics are off: this bot has no Greenflash API key.",
    Outcome.PLAN: "Greenflash's analytics need a Growth plan or higher, "
                  "and this Greenflash workspace does not have one.",
    Outcome.NOTHING_YET: "Greenflash has nothing to show for this yet: "
                         "no conversations have been analysed.",
    Outcome.TIMED_OUT: "Greenflash did not answer in time; try again in a moment.",
    Outcome.UNREACHABLE: "Greenflash cannot be reached right now; try again later.",
    Outcome.FAILED: "Greenflash could not answer this right now; try again later.",
}

# Greenflash's own answers: worth keeping for the TTL. Failures to get one are retried.
_CACHED = {Outcome.READ, Outcome.PLAN, Outcome.NOTHING_YET}


@dataclass(frozen=True)
class Read(Generic[T]):
    """What one read gave: the value when ``outcome`` is ``READ``, else the sentence."""

    outcome: Outcome
    value: T | None = None

    @property
    def sentence(self) -> str | None:
        return SENTENCES.get(self.outcome)


@dataclass(frozen=True)
class Level:
    label: str
    score: float


@dataclass(frozen=True)
class Count:
    name: str
    count: int


@dataclass(frozen=True)
class OrganizationFigures:
    conversations: int
    quality_index: float | None
    rating: float | None
    sentiment: Level
    frustration: Level
    struggle: Level
    topics: tuple[Count, ...]  # insights mode only; empty otherwise
    keywords: tuple[Count, ...]
    summary: str | None


@dataclass(frozen=True)
class FlaggedConversation:
    conversation_id: str  # Greenflash's
    channel_id: str  # ours: the external conversation id, the channel or thread
    topic: str | None
    trigger: str | None
    severity: int | None  # the highest of its triggers, 1..5
    flagged_at: datetime
    message_count: int


@dataclass(frozen=True)
class PromptFigures:
    prompt_id: str  # ours: the external prompt id
    conversations: int
    quality_index: float | None
    last_used_at: str | None


class _Unknown(Exception):
    """Greenflash does not know this guild: the same "nothing yet" as its own 404."""


class InsightsReader:
    """Reads organization analytics, the review inbox and prompt analytics for commands.

    ``client`` is the one from :func:`bot.greenflash_client.build_client` (``None`` when
    analytics are off); ``clock`` is injectable so tests can age the cache.
    """

    def __init__(
        self,
        client: greenflash.AsyncGreenflash | None,
        *,
        time_limit: float = 10.0,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        inbox_size: int = 10,
        lookups_per_read: int = 25,
        organization_pages: int = 10,
    ) -> None:
        self._client = (
            client.with_options(timeout=time_limit, max_retries=0) if client is not None
            else None
        )
        self._limit = time_limit
        self._ttl = ttl
        self._clock = clock
        self._inbox_size = inbox_size
        self._lookups = lookups_per_read
        self._pages = organization_pages
        self._cache: dict[tuple[str, ...], tuple[float, Read[Any]]] = {}
        self._organization_ids: dict[str, str] = {}  # guild id -> Greenflash's id
        self._places: dict[str, tuple[str | None, str | None]] = {}  # conv -> channel, guild

    async def organization(
        self, guild_id: str, *, insights: bool = False
    ) -> Read[OrganizationFigures]:
        """The guild's figures; ``insights`` adds topics, keywords and the summary (a mode
        Greenflash rate-limits per plan, so the operator opts in)."""
        mode: Literal["simple", "insights"] = "insights" if insights else "simple"
        return await self._cached(
            ("organization", guild_id, mode), "organization analytics",
            lambda client: self._organization(client, guild_id, mode),
        )

    async def inbox(self, guild_id: str) -> Read[tuple[FlaggedConversation, ...]]:
        """This guild's unreviewed flagged conversations, at most ``inbox_size``, in
        Greenflash's order (by attention)."""
        return await self._cached(
            ("inbox", guild_id), "review inbox", lambda client: self._inbox(client, guild_id),
        )

    async def prompts(self, prompt_ids: Sequence[str]) -> dict[str, Read[PromptFigures]]:
        """Each external prompt id's figures, read side by side, each cached on its own."""
        reads = await asyncio.gather(*(
            self._cached(("prompt", prompt_id), "prompt analytics",
                         functools.partial(self._prompt, prompt_id=prompt_id))
            for prompt_id in prompt_ids
        ))
        return dict(zip(prompt_ids, reads, strict=True))

    # -- bounding and caching --------------------------------------------------------------

    async def _cached(
        self,
        key: tuple[str, ...],
        what: str,
        read: Callable[[greenflash.AsyncGreenflash], Awaitable[T]],
    ) -> Read[T]:
        if self._client is None:
            return Read(Outcome.OFF)
        kept = self._cache.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        result = await self._bounded(self._client, what, read)
        if result.outcome in _CACHED:
            self._cache[key] = (self._clock() + self._ttl, result)
        return result

    async def _bounded(
        self,
        client: greenflash.AsyncGreenflash,
        what: str,
        read: Callable[[greenflash.AsyncGreenflash], Awaitable[T]],
    ) -> Read[T]:
        try:
            async with asyncio.timeout(self._limit):
                return Read(Outcome.READ, await read(client))
        except greenflash.PermissionDeniedError:
            return Read(Outcome.PLAN)
        except (greenflash.NotFoundError, _Unknown):
            return Read(Outcome.NOTHING_YET)
        except TimeoutError:
            outcome = Outcome.TIMED_OUT
        except greenflash.APIConnectionError as error:
            sent = isinstance(error, greenflash.APITimeoutError) and not never_sent(error)
            outcome = Outcome.TIMED_OUT if sent else Outcome.UNREACHABLE
        except greenflash.APIError as error:
            log.warning("Greenflash %s failed: %s", what, describe(error))
            return Read(Outcome.FAILED)
        log.info("Greenflash %s: %s", what, outcome.value)
        return Read(outcome)

    # -- the reads -------------------------------------------------------------------------

    async def _organization(
        self, client: greenflash.AsyncGreenflash, guild_id: str,
        mode: Literal["simple", "insights"],
    ) -> OrganizationFigures:
        organization_id = await self._organization_id(client, guild_id)
        got = await client.organizations.get_organization_analytics(organization_id, mode=mode)
        return OrganizationFigures(
            conversations=int(got.total_conversations),
            quality_index=got.average_conversation_quality_index,
            rating=got.average_conversation_rating,
            sentiment=Level(got.average_user_sentiment.label, got.average_user_sentiment.score),
            frustration=Level(got.average_frustration.label, got.average_frustration.score),
            struggle=Level(got.average_struggle.label, got.average_struggle.score),
            topics=tuple(Count(t.name, int(t.count)) for t in got.topics or []),
            keywords=tuple(Count(k.name, int(k.count)) for k in got.keywords or []),
            summary=got.summary.analysis if got.summary is not None else None,
        )

    async def _organization_id(self, client: greenflash.AsyncGreenflash, guild_id: str) -> str:
        """Greenflash's id for the guild, from ``organizations.list`` (every pair on the
        pages read is kept, so one pass serves every guild)."""
        for page in range(1, self._pages + 1):
            if guild_id in self._organization_ids:
                break
            listed = await client.organizations.list(limit=PAGE_SIZE, page=page)
            self._organization_ids.update(
                (organization.external_id, organization.id) for organization in listed
                if organization.external_id
            )
            if len(listed) < PAGE_SIZE:
                break
        if guild_id not in self._organization_ids:
            raise _Unknown(guild_id)
        return self._organization_ids[guild_id]

    async def _inbox(
        self, client: greenflash.AsyncGreenflash, guild_id: str
    ) -> tuple[FlaggedConversation, ...]:
        items = await client.inbox.list(status="unreviewed")
        unplaced = [item.conversation_id for item in items
                    if item.conversation_id not in self._places][: self._lookups]
        await asyncio.gather(*(self._place(client, conversation) for conversation in unplaced))
        mine = [item for item in items
                if self._places.get(item.conversation_id, (None, None))[1] == guild_id]
        details = await asyncio.gather(*(
            client.inbox.get(item.conversation_id) for item in mine[: self._inbox_size]
        ))
        return tuple(
            FlaggedConversation(
                conversation_id=detail.conversation_id,
                channel_id=str(self._places[detail.conversation_id][0]),
                topic=detail.topic,
                trigger=detail.trigger_type,
                severity=max((trigger.severity for trigger in detail.triggers), default=None),
                flagged_at=detail.timestamp,
                message_count=detail.message_count,
            )
            for detail in details
        )

    async def _place(self, client: greenflash.AsyncGreenflash, conversation_id: str) -> None:
        """Remember which channel and guild a Greenflash conversation is; one Greenflash no
        longer has belongs to no guild."""
        try:
            detail = await client.interactions.get(conversation_id)
        except greenflash.NotFoundError:
            self._places[conversation_id] = (None, None)
            return
        self._places[conversation_id] = (detail.external_id, detail.organization_external_id)

    async def _prompt(self, client: greenflash.AsyncGreenflash, prompt_id: str) -> PromptFigures:
        found = await client.prompts.get(prompt_id)
        got = await client.prompts.get_prompt_analytics(found.prompt.id)
        return PromptFigures(
            prompt_id=prompt_id,
            conversations=int(got.total_conversations),
            quality_index=got.avg_quality_index,
            last_used_at=got.last_used_at,
        )
