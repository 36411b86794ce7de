"""One agent run as Greenflash's agentic message items (integration plan, section 5).

The user's message is logged where it is received; then each ``tool_call`` (``tool_name``,
``input`` = the arguments), each ``observation`` (``output``, bounded; ``tool_error`` for a
failure or a refusal) and finally the ``final_response`` (``content`` = what the person saw)
are logged where the reply is produced, each as it happens. Every item carries a stable
``external_message_id`` (Greenflash skips an id it already has, so a resend is harmless) and
``parent_external_message_id`` chaining it to the step it follows, back to the user's
message: the calls of one round share the step before the round as their parent, each
observation has its call as parent, and the answer has the last observation. Shapes:
``greenflash.types.MessageItemParam`` (``message_type``, ``tool_name``, ``input``,
``output``, ``parent_external_message_id``).

A knowledge search is a ``retrieval`` item (``input`` = the query, ``context`` = the passages
the model saw, bounded, ``properties`` = the sources and their ranks): the one made up front
follows the step before it (the user's message) and the rest of the run follows it; a
``search_knowledge`` call's result is logged as a retrieval in place of an observation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.knowledge.desk import Lookup, Search

OUTPUT_MAX_CHARS = 4_000
"""What Greenflash keeps of one tool result: enough to see what the model was told."""

SEARCH_TOOL = "search_knowledge"

Send = Callable[[dict[str, Any], str], None]
"""Schedules one message item for sending (fire-and-forget), with the model it names."""


def _arguments(arguments: str) -> dict[str, object]:
    """The call's arguments as an object; what is not a JSON object is kept as text."""
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return {"raw": arguments[:OUTPUT_MAX_CHARS]}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _bounded(text: str) -> str:
    return text if len(text) <= OUTPUT_MAX_CHARS else text[:OUTPUT_MAX_CHARS] + "…"


class AgentTrail:
    """The chain of one question's steps; satisfies :class:`bot.agent.loop.AgentSteps`."""

    def __init__(self, prompt_message_id: int, send: Send, model: str) -> None:
        self.lookup: Lookup | None = None
        """The question's knowledge, once the client knows where it may search."""
        self._queries: dict[str, str] = {}
        self.root = str(prompt_message_id)
        self.send = send
        self.model = model
        self.last = self.root
        self._round_parent: str | None = None
        self._call_items: dict[str, str] = {}
        self.steps = 0

    def _item_id(self, call_id: str, suffix: str = "") -> str:
        return f"{self.root}:{call_id}{suffix}"

    def tool_call(
        self, call_id: str, name: str, arguments: str, model: str, at: datetime
    ) -> None:
        if self._round_parent is None:
            self._round_parent = self.last
        item_id = self._item_id(call_id)
        self._call_items[call_id] = item_id
        if name == SEARCH_TOOL:
            self._queries[call_id] = str(_arguments(arguments).get("query", "")).strip()
        self.model = model
        self.steps += 1
        self.send(
            {
                "message_type": "tool_call",
                "tool_name": name,
                "input": _arguments(arguments),
                "external_message_id": item_id,
                "parent_external_message_id": self._round_parent,
                "created_at": at,
                "model": model,
            },
            model,
        )

    def retrieval(self, search: Search, at: datetime, call_id: str | None = None) -> None:
        """One knowledge search: up front (no ``call_id``), or a ``search_knowledge``
        call's result."""
        item_id = self._item_id(call_id, ":result") if call_id else f"{self.root}:knowledge"
        parent = self._call_items.get(call_id, self.root) if call_id else self.last
        self.send(
            {
                "message_type": "retrieval",
                "input": {"query": search.query},
                "context": _bounded(search.shown),
                "external_message_id": item_id,
                "parent_external_message_id": parent,
                "created_at": at,
                "properties": {
                    "sources": search.sources,
                    "ranks": [
                        {"source": p.source, "heading": p.heading, "rank": round(p.rank, 4)}
                        for p in search.passages
                    ],
                    "knowledge_hit": bool(search.passages),
                },
            },
            self.model,
        )
        self.last = item_id

    def observation(
        self, call_id: str, *, name: str, output: str, error: str | None, refused: bool,
        at: datetime,
    ) -> None:
        query = self._queries.get(call_id)
        search = self.lookup.made(query) if self.lookup and query is not None else None
        if error is None and search is not None:
            self.retrieval(search, at, call_id)
            self._round_parent = None
            return
        item_id = self._item_id(call_id, ":result")
        result: dict[str, object] = (
            {"result": _bounded(output)} if error is None
            else {"error": error, "refused": refused}
        )
        self.send(
            {
                "message_type": "observation" if error is None else "tool_error",
                "tool_name": name,
                "output": result,
                "external_message_id": item_id,
                "parent_external_message_id": self._call_items.get(call_id, self.root),
                "created_at": at,
                "properties": {"refused": refused} if error is not None else {},
            },
            self.model,
        )
        self.last = item_id
        self._round_parent = None

    @property
    def after_step(self) -> str | None:
        """What the answer follows when it is an agent run's final response: the last step,
        whether a tool's or a search made up front; ``None`` for a plain reply."""
        return None if self.last == self.root else self.last

    @property
    def sources(self) -> tuple[str, ...] | None:
        """The sources the model was shown; ``None`` when no knowledge was searched."""
        return self.lookup.sources if self.lookup and self.lookup.found else None
