"""The read side of the Greenflash stand-in, and the prompt objects ``POST /messages`` takes.

Mixed into :class:`tests.standins.greenflash_server.GreenflashStandIn`. Every shape is the
``greenflash`` 1.4 SDK's type of the same name; the rules come from the SDK's resource docs
(``resources/organizations.py``, ``inbox.py``, ``interactions.py``, ``prompts.py``) and
Greenflash's API reference, cited per endpoint:

* ``GET /organizations?limit=&offset=&page=`` (``organizations.list``): a page of
  ``TenantOrganization``; ``limit`` 1..100 (default 50), ``offset`` >= 0, ``page`` >= 1
  giving ``offset = (page - 1) * limit`` (``organization_list_params.py``; API reference
  "List organizations").
* ``GET /organizations/{organizationId}/analytics?mode=simple|insights``
  (``GetOrganizationAnalyticsResponse``). The path holds Greenflash's organization id, the
  ``organization.id`` that ``organizations.create`` and ``organizations.list`` return: the
  SDK documents this parameter as "The organization ID to get analytics for", where
  ``organizations.update`` says of its own "Your external organization ID (the
  externalOrganizationId used when creating the organization)". An unknown id, or an
  organization without conversations, is 404 (docs.greenflash.ai, "Get Organization
  Analytics": "Returns 404 if the organization doesn't exist or has no conversations").
  ``mode`` defaults to ``insights``, the only mode with ``topics``, ``keywords`` and
  ``summary`` (same page).
* ``GET /inbox?status=&triggerType=&minSeverity=&axis=`` (``inbox.list``, a list of
  ``InboxItemSummary``): ``status`` defaults to ``unreviewed``; ``minSeverity`` 1..5
  compares with the item's highest trigger severity. There is no organization filter and
  no page parameter: neither ``inbox_list_params.py`` nor the API reference ("List Inbox
  Items") has one, so a client learns an item's organization from its conversation.
* ``GET /inbox/{conversationId}`` (``GetInboxItemResponse``, whose ``triggers`` carry the
  severity the summary lacks); ``GET /interactions/{id}`` (``InteractionDetail``, whose
  ``externalId`` and ``organizationExternalId`` are the client's conversation and
  organization ids). Unknown ids are 404.
* ``GET /prompts/{id}`` (``GetPromptResponse``): ``id`` is Greenflash's prompt id or the
  ``externalPromptId`` (``prompts.get``: "Can be: internal prompt ID (UUID), or
  externalPromptId"). ``GET /prompts/{id}/analytics`` (``GetPromptAnalyticsResponse``)
  takes Greenflash's id only ("The prompt ID to get analytics for"). Unknown ids are 404.

Plans: every ``GET /*/analytics`` endpoint needs a Growth plan or higher (SDK docstrings:
"Requires Growth+ plan or higher"; docs.greenflash.ai "Public API": "Analytics Endpoints
(Growth+) ... require a Growth or Enterprise plan"). With ``plan = "free"`` they answer 403
(``greenflash.PermissionDeniedError``) with the sentence Greenflash's own agent guide gives
for it (github.com/greenflash-ai/agent-skills, ``skills/greenflash-config.md``, "Plan
Requirements": "Free-plan API keys will receive a 403 error"); the other reads work on every
plan, as that guide's table says.

Scripting: :meth:`script_organization_analytics` and :meth:`script_prompt_analytics` set
the figures (an organization or prompt the bot never sent is created as if it had);
:meth:`flag_for_review` puts a conversation (by its external id) in the inbox with a
severity and a trigger. Unscripted, an organization's analytics count its conversations and
a prompt's count the conversations whose messages carried it.

Prompt objects in ``systemPrompt`` (``types/system_prompt_param.py``,
``component_input_param.py``): a string, or an object with ``components`` (each with
``content`` required; ``name``; ``type`` and ``source`` from their lists;
``componentId`` / ``externalComponentId`` strings; ``isDynamic`` a boolean) or ``content``
(mutually exclusive with ``components``), ``externalPromptId`` / ``promptId`` strings and
``variables`` (strings by name); an object must define components or content, or name a
prompt. A malformed one is 400 naming the field. Each one accepted is upserted as a prompt
(by ``externalPromptId``, else ``promptId``, else its text) and recorded in
``system_prompts``; :meth:`system_prompt_of` finds the one a message carried.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from typing import Any, Literal

from tests.standins.greenflash_validation import (
    Invalid,
    check,
    is_bool,
    is_object,
    is_string,
    now,
    one_of,
)

COMPONENT_TYPES = ("system", "user", "tool", "guardrail", "rag", "agent", "other")
COMPONENT_SOURCES = ("customer", "participant", "greenflash", "agent")
TRIGGER_TYPES = ("guardrail", "expectation_check", "novelty", "manual_review", "revenue_risk")
REVIEW_STATUSES = ("unreviewed", "reviewed", "dismissed")
PLAN_REFUSAL = (
    "This feature requires a Growth plan or higher. "
    "Upgrade at https://www.greenflash.ai/app/settings/billing"
)

_READ_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name) for pattern, name in (
        (r"/organizations", "_organizations_list"),
        (r"/organizations/(?P<id>[^/]+)/analytics", "_organization_analytics"),
        (r"/inbox", "_inbox_list"),
        (r"/inbox/(?P<id>[^/]+)", "_inbox_item"),
        (r"/interactions/(?P<id>[^/]+)", "_interaction"),
        (r"/prompts/(?P<id>[^/]+)", "_prompt"),
        (r"/prompts/(?P<id>[^/]+)/analytics", "_prompt_analytics"),
    )
)


def _score(score: float, labels: tuple[str, str, str]) -> dict[str, Any]:
    """A ``{label, score}`` pair; the label is the score's third of -1..1 or 0..1."""
    low, high = (-1 / 3, 1 / 3) if labels[0] == "negative" else (1 / 3, 2 / 3)
    label = labels[0] if score < low else labels[2] if score >= high else labels[1]
    return {"label": label, "score": score}


_LEVELS = ("low", "moderate", "high")
_MOODS = ("negative", "neutral", "positive")


def _counts(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in counts.items()]


class GreenflashReads:
    """Read endpoints and prompt objects; the host provides ``organizations``, ``_ids``,
    ``_organization`` and ``_conversation_for`` (see ``GreenflashStandIn``)."""

    organizations: dict[str, dict[str, Any]]
    _ids: itertools.count[int]
    _organization: Callable[[str, dict[str, Any]], dict[str, Any]]
    _conversation_for: Callable[[dict[str, Any]], str]

    def _init_reads(self) -> None:
        self.plan: Literal["free", "growth", "enterprise"] = "growth"
        self.interactions: dict[str, dict[str, Any]] = {}  # InteractionDetail by conversation
        self.inbox: dict[str, dict[str, Any]] = {}  # review item by conversation id
        self.prompts: dict[str, dict[str, Any]] = {}  # Prompt by Greenflash id
        self.system_prompts: list[dict[str, Any]] = []  # one per message call that had one
        self._prompt_keys: dict[str, str] = {}  # externalPromptId / text key -> prompt id
        self._organization_figures: dict[str, dict[str, Any]] = {}  # by Greenflash org id
        self._prompt_figures: dict[str, dict[str, Any]] = {}  # scripted, by Greenflash id

    # -- scripting -------------------------------------------------------------------------

    def script_organization_analytics(
        self,
        external_id: str,
        *,
        conversations: int,
        quality_index: float | None = None,
        rating: float | None = None,
        sentiment: float = 0.0,
        frustration: float = 0.0,
        struggle: float = 0.0,
        topics: dict[str, int] | None = None,
        keywords: dict[str, int] | None = None,
        summary: str | None = None,
    ) -> str:
        """Set the figures of the organization with this external id; returns its Greenflash
        id. ``conversations=0`` makes its analytics 404, as for an organization without any."""
        organization = self._organization(external_id, {})
        self._organization_figures[organization["id"]] = self._figures(
            conversations, quality_index, rating, sentiment, frustration, struggle,
            topics, keywords, summary,
        )
        return str(organization["id"])

    def script_prompt_analytics(
        self,
        external_prompt_id: str,
        *,
        conversations: int,
        quality_index: float | None = None,
        last_used_at: str | None = None,
        suggestions: int = 0,
    ) -> str:
        """Set the figures of the prompt with this external id; returns its Greenflash id."""
        prompt_id = self._upsert_prompt(external_prompt_id, {"externalPromptId":
                                                             external_prompt_id})
        self._prompt_figures[prompt_id] = {
            "totalConversations": conversations, "avgQualityIndex": quality_index,
            "lastUsedAt": last_used_at, "suggestionCount": suggestions,
            "effectiveSuggestionCount": suggestions, "needsReview": suggestions > 0,
        }
        return prompt_id

    def flag_for_review(
        self,
        external_conversation_id: str,
        *,
        organization: str | None = None,
        severity: int = 3,
        trigger: str = "guardrail",
        status: str = "unreviewed",
        topic: str | None = None,
        product_id: str = "prod-standin",
    ) -> str:
        """Put the conversation with this external id (and ``organization``, an external
        organization id) in the review inbox; returns Greenflash's conversation id."""
        if trigger not in TRIGGER_TYPES or status not in REVIEW_STATUSES:
            raise ValueError(f"unknown trigger {trigger!r} or status {status!r}")
        conversation = self._conversation_for({"productId": product_id,
                                               "externalConversationId":
                                               external_conversation_id})
        self._note_interaction(conversation, {
            "productId": product_id, "externalConversationId": external_conversation_id,
            "externalOrganizationId": organization, "externalUserId": "user-flagged",
        })
        self.inbox[conversation] = {
            "conversationId": conversation, "topic": topic, "triggerType": trigger,
            "reviewStatus": status, "timestamp": now(), "messageCount": 2,
            "axis": "opportunity" if trigger == "revenue_risk" else "attention",
            "triggers": [{"triggerType": trigger, "severity": severity,
                          "reason": f"scripted {trigger}", "source": "standin",
                          "confidence": 0.9}],
        }
        return conversation

    def system_prompt_of(self, external_message_id: str) -> dict[str, Any] | None:
        """The recorded prompt object of the call that carried this message, if any."""
        for entry in reversed(self.system_prompts):
            if external_message_id in entry["externalMessageIds"]:
                return entry
        return None

    # -- the write side's hooks ------------------------------------------------------------

    def _note_interaction(self, conversation: str, body: dict[str, Any]) -> None:
        """Remember what ``GET /interactions/{id}`` tells about a conversation."""
        organization = body.get("externalOrganizationId")
        stamp = now()
        detail = self.interactions.setdefault(conversation, {
            "id": conversation, "createdAt": stamp, "messages": [],
            "participantId": f"user-{next(self._ids)}", "versionId": "version-standin",
        })
        detail.update({
            "externalId": body.get("externalConversationId"),
            "externalParticipantId": body.get("externalUserId"),
            "productId": body.get("productId") or "prod-standin",
            "updatedAt": stamp,
        })
        if organization:
            detail["organizationExternalId"] = organization
            detail["organizationId"] = self._organization(organization, {})["id"]

    def _take_system_prompt(
        self, body: dict[str, Any], conversation: str
    ) -> tuple[str, list[str]]:
        """Upsert and record a message call's ``systemPrompt``; returns the prompt id and
        its component ids for the answer (``""`` and ``[]`` without one)."""
        given = body.get("systemPrompt")
        if not given:
            return "", []
        prompt = {"content": given} if isinstance(given, str) else given
        key = (prompt.get("externalPromptId") or prompt.get("promptId")
               or "text:" + hashlib.sha256(repr(prompt).encode()).hexdigest())
        prompt_id = self._upsert_prompt(key, prompt)
        self.system_prompts.append({
            "promptId": prompt_id,
            "externalPromptId": prompt.get("externalPromptId"),
            "components": prompt.get("components"),
            "content": prompt.get("content"),
            "variables": prompt.get("variables"),
            "externalConversationId": body.get("externalConversationId"),
            "conversationId": conversation,
            "externalMessageIds": [item.get("externalMessageId") for item in body["messages"]],
            "at": now(),
        })
        return prompt_id, [component["id"] for component in self.prompts[prompt_id]["components"]]

    def _upsert_prompt(self, key: str, prompt: dict[str, Any]) -> str:
        prompt_id = self._prompt_keys.get(key) or (
            prompt.get("promptId") if prompt.get("promptId") in self.prompts else None)
        stamp = now()
        if prompt_id is None:
            prompt_id = f"prompt-{next(self._ids)}"
            self._prompt_keys[key] = prompt_id
            self.prompts[prompt_id] = {
                "id": prompt_id, "externalPromptId": prompt.get("externalPromptId"),
                "components": [], "createdAt": stamp, "source": "customer",
            }
        stored = self.prompts[prompt_id]
        components = prompt.get("components")
        if components is None and prompt.get("content") is not None:
            components = [{"content": prompt["content"], "type": "system"}]
        given = [{"source": "customer", **component} for component in components or []]
        kept = [{name: value for name, value in component.items()
                 if name not in ("id", "createdAt", "updatedAt")}
                for component in stored["components"]]
        if components is not None and given != kept:  # a changed text: a new version
            stored["components"] = [
                {"id": f"component-{next(self._ids)}", "createdAt": stamp, "updatedAt": stamp,
                 **component}
                for component in given
            ]
        stored["updatedAt"] = stamp
        return prompt_id

    # -- routing ---------------------------------------------------------------------------

    def _read_route(self, method: str, path: str) -> Callable[..., Any] | None:
        if method != "GET":
            return None
        for pattern, name in _READ_ROUTES:
            match = pattern.fullmatch(path)
            if match is not None:
                if path.endswith("/analytics") and self.plan == "free":
                    raise Invalid(403, [PLAN_REFUSAL])
                endpoint: Callable[..., Any] = getattr(self, name)
                return lambda query: endpoint(query, **match.groupdict())
        return None

    # -- endpoints -------------------------------------------------------------------------

    def _organizations_list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        limit = _integer(query, "limit", 50, 1, 100)
        offset = _integer(query, "offset", 0, 0, None)
        if "page" in query:
            offset = (_integer(query, "page", 1, 1, None) - 1) * limit
        return list(self.organizations.values())[offset: offset + limit]

    def _organization_analytics(self, query: dict[str, str], id: str) -> dict[str, Any]:
        mode = query.get("mode", "insights")
        if mode not in ("simple", "insights"):
            raise Invalid(400, [f"mode: expected one of simple, insights, got {mode!r}"])
        external = next((org["externalId"] for org in self.organizations.values()
                         if org["id"] == id), None)
        if external is None:
            raise Invalid(404, [f"organization {id} not found"])
        figures = self._organization_figures.get(id) or self._figures(
            sum(detail.get("organizationId") == id for detail in self.interactions.values()),
            None, None, 0.0, 0.0, 0.0, None, None, None,
        )
        if not figures["totalConversations"]:
            raise Invalid(404, [f"organization {id} has no conversations"])
        if mode == "simple":
            return {key: value for key, value in figures.items()
                    if key not in ("topics", "keywords", "summary")}
        return figures

    def _inbox_list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = query.get("status", "unreviewed")
        trigger, axis = query.get("triggerType"), query.get("axis")
        problems: list[str] = []
        check(query, problems, optional={
            "status": one_of(*REVIEW_STATUSES), "triggerType": one_of(*TRIGGER_TYPES),
            "axis": one_of("attention", "opportunity"),
        })
        if problems:
            raise Invalid(400, problems)
        least = _integer(query, "minSeverity", 1, 1, 5)
        summary_keys = ("conversationId", "topic", "triggerType", "reviewStatus",
                        "timestamp", "messageCount", "axis")
        return [
            {key: item[key] for key in summary_keys}
            for item in self.inbox.values()
            if item["reviewStatus"] == status
            and trigger in (None, item["triggerType"]) and axis in (None, item["axis"])
            and max(t["severity"] for t in item["triggers"]) >= least
        ]

    def _inbox_item(self, query: dict[str, str], id: str) -> dict[str, Any]:
        item = self.inbox.get(id)
        if item is None:
            raise Invalid(404, [f"inbox item {id} not found"])
        detail = self.interactions[id]
        return {**{key: value for key, value in item.items() if key != "axis"},
                "messages": detail["messages"], "keywords": [], "summary": None,
                "participant": {"id": detail["participantId"],
                                "externalId": detail.get("externalParticipantId")}}

    def _interaction(self, query: dict[str, str], id: str) -> dict[str, Any]:
        detail = self.interactions.get(id)
        if detail is None:
            raise Invalid(404, [f"interaction {id} not found"])
        return detail

    def _prompt(self, query: dict[str, str], id: str) -> dict[str, Any]:
        prompt_id = id if id in self.prompts else self._prompt_keys.get(id)
        if prompt_id is None:
            raise Invalid(404, [f"prompt {id} not found"])
        return {"prompt": self.prompts[prompt_id]}

    def _prompt_analytics(self, query: dict[str, str], id: str) -> dict[str, Any]:
        if id not in self.prompts:
            raise Invalid(404, [f"prompt {id} not found"])
        scripted = self._prompt_figures.get(id)
        if scripted is not None:
            return scripted
        uses = [entry for entry in self.system_prompts if entry["promptId"] == id]
        return {
            "totalConversations": len({entry["conversationId"] for entry in uses}),
            "avgQualityIndex": None, "lastUsedAt": uses[-1]["at"] if uses else None,
            "suggestionCount": 0, "effectiveSuggestionCount": 0, "needsReview": False,
        }

    @staticmethod
    def _figures(
        conversations: int,
        quality_index: float | None,
        rating: float | None,
        sentiment: float,
        frustration: float,
        struggle: float,
        topics: dict[str, int] | None,
        keywords: dict[str, int] | None,
        summary: str | None,
    ) -> dict[str, Any]:
        return {
            "totalConversations": conversations,
            "averageConversationQualityIndex": quality_index,
            "averageConversationRating": rating,
            "averageUserSentiment": _score(sentiment, _MOODS),
            "averageChangeInUserSentiment": _score(0.0, _MOODS),
            "averageFrustration": _score(frustration, _LEVELS),
            "averageStruggle": _score(struggle, _LEVELS),
            "averageCommercialIntent": _score(0.0, _LEVELS),
            "topics": _counts(topics or {}),
            "keywords": _counts(keywords or {}),
            "summary": {"analysis": summary, "reason": "scripted"} if summary else None,
        }


def system_prompt_problems(value: Any) -> list[str]:
    """What is wrong with a ``systemPrompt`` (``types/system_prompt_param.py``)."""
    if isinstance(value, str):
        return []
    if not isinstance(value, dict):
        return [f"systemPrompt: expected a string or a prompt object, got {value!r}"]
    problems: list[str] = []
    check(value, problems, where="systemPrompt.", optional={
        "content": is_string, "externalPromptId": is_string, "promptId": is_string,
        "variables": is_object,
    })
    for name, text in (value.get("variables") or {}).items():
        if not isinstance(text, str):
            problems.append(f"systemPrompt.variables.{name}: expected a string, got {text!r}")
    components = value.get("components")
    if components is not None and value.get("content") is not None:
        problems.append("systemPrompt: components and content are mutually exclusive")
    if not any(value.get(key) is not None
               for key in ("components", "content", "externalPromptId", "promptId")):
        problems.append("systemPrompt: one of components, content, externalPromptId, "
                        "promptId is required")
    if components is not None and not isinstance(components, list):
        problems.append(f"systemPrompt.components: expected an array, got {components!r}")
        components = []
    for index, component in enumerate(components or []):
        where = f"systemPrompt.components[{index}]."
        if not isinstance(component, dict):
            problems.append(f"{where[:-1]}: expected an object")
            continue
        check(component, problems, where=where, required={"content": is_string}, optional={
            "name": is_string, "componentId": is_string, "externalComponentId": is_string,
            "isDynamic": is_bool, "type": one_of(*COMPONENT_TYPES),
            "source": one_of(*COMPONENT_SOURCES),
        })
    return problems


def _integer(
    query: dict[str, str], name: str, default: int, low: int, high: int | None
) -> int:
    """A numeric query parameter within its documented range, else 400."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(float(raw))
    except ValueError as error:
        raise Invalid(400, [f"{name}: expected a number, got {raw!r}"]) from error
    if value < low or (high is not None and value > high):
        raise Invalid(400, [f"{name}: must be within {low}..{high or ''}, got {value}"])
    return value
