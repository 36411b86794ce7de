"""One question's knowledge: which servers' sources it may search, and what each search found.

The rule that nothing crosses guilds is decided here, once, from plain ids: a question asked
in a server searches that server's sources and no other; a question asked in a DM searches
the servers the person shares with the bot that switched DM knowledge on
(``/knowledge dms on``), and no server otherwise. With several such servers each is
searched and their passages are taken in turn, best of each first (ranks are not comparable
across searches), up to the same number of passages as one server gives: the person can read
every one of those servers, so nothing reaches them they could not read there.

Every search of one question, the one made up front and each ``search_knowledge`` call, is
kept in :class:`Lookup`, so the Greenflash trail can log each as a ``retrieval`` item and the
answer can name the sources it was given.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.conversation.exchange import Voice
from bot.knowledge.config import KnowledgeSettings
from bot.knowledge.search import Passage, format_passages, sources_named
from bot.storage import StorageUnavailable
from bot.storage.knowledge import KnowledgeStore

log = logging.getLogger(__name__)

# A DM searches at most this many shared servers: each is one query on the database.
MAX_DM_GUILDS = 3
CITE = (
    "This server has a knowledge base. When you answer from it, name the source you used "
    "in italics, as in (from *Refund policy*); do not invent sources."
)
UNAVAILABLE = "The knowledge base is not answering right now; answer without it."


@dataclass(frozen=True)
class Scope:
    """Whose knowledge one question may search, and whether passages go up front."""

    guild_ids: tuple[int, ...] = ()
    up_front: bool = False


@dataclass(frozen=True)
class Search:
    """One search as the model saw it: ``shown`` is the text it was given."""

    query: str
    passages: tuple[Passage, ...]
    shown: str

    @property
    def sources(self) -> list[str]:
        return sources_named(self.passages)


@dataclass
class Lookup:
    """The knowledge of one question: where it may search, and every search it made."""

    desk: KnowledgeDesk
    scope: Scope
    found: list[Search] = field(default_factory=list)

    async def search(self, query: str) -> Search:
        search = await self.desk.search(self.scope, query)
        self.found.append(search)
        return search

    def made(self, query: str) -> Search | None:
        """The last search made for ``query`` (a tool call's arguments name it)."""
        return next((search for search in reversed(self.found) if search.query == query), None)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source the model was shown, in the order it was first shown."""
        return tuple(dict.fromkeys(s for search in self.found for s in search.sources))


class KnowledgeDesk:
    def __init__(self, store: KnowledgeStore, settings: KnowledgeSettings) -> None:
        self.store = store
        self.settings = settings

    async def scope(self, guild_id: int, places: Sequence[int]) -> Scope:
        """A server's question: ``places`` is the channel asked in (a thread, then its
        parent). A database that does not answer gives no knowledge, not a failed reply."""
        try:
            held, on = await self.store.used_here(guild_id, places)
        except StorageUnavailable as error:
            log.warning("no knowledge for this question: %s", error)
            return Scope()
        return Scope((guild_id,), up_front=on) if held else Scope()

    async def dm_guilds(self, guild_ids: Sequence[int]) -> list[int]:
        """Of the bot's servers, those that allow their knowledge in DMs."""
        try:
            return await self.store.dm_guilds(guild_ids) if guild_ids else []
        except StorageUnavailable as error:
            log.warning("no DM knowledge for this question: %s", error)
            return []

    @staticmethod
    def dm_scope(shared: Sequence[int]) -> Scope:
        """A DM: the allowing servers its person is in, the first few by id."""
        chosen = tuple(sorted(shared)[:MAX_DM_GUILDS])
        return Scope(chosen, up_front=bool(chosen))

    async def search(self, scope: Scope, query: str) -> Search:
        top = self.settings.top_passages
        try:
            found = [await self.store.search(guild, query, top) for guild in scope.guild_ids]
        except StorageUnavailable as error:
            log.warning("knowledge search failed: %s", error)
            return Search(query, (), UNAVAILABLE)
        taken = [p for group in itertools.zip_longest(*found) for p in group if p is not None]
        passages = tuple(taken[:top])
        return Search(query, passages, format_passages(passages))


def briefed(voice: Voice, search: Search | None) -> Voice:
    """The voice for this question only: its prompt, the instruction to name sources, and
    the passages found up front (when a search was made)."""
    extra = [CITE] if search is None else [CITE, search.shown]
    return replace(voice, system_prompt="\n\n".join([voice.system_prompt, *extra]))
