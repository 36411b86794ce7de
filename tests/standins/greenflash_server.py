"""A local stand-in for the part of the Greenflash REST API the bot uses.

It is a real HTTP server (aiohttp) on 127.0.0.1 with an ephemeral port; point the real SDK at
it with ``GREENFLASH_BASE_URL=standin.base_url`` or
``greenflash.AsyncGreenflash(base_url=standin.base_url, api_key=...)``.

Covered (paths relative to ``base_url``, bodies in the camelCase the SDK sends):

* ``POST /messages`` (``client.messages.create``), ``POST /users`` (``users.create``),
  ``POST /organizations`` (``organizations.create``), ``POST /ratings`` (``ratings.log``),
  ``POST /events`` (``events.create``): validated as the SDK's parameter docs describe, then
  answered 200 with the JSON its response models parse (``CreateMessageResponse``,
  ``CreateUserResponse``, ``CreateOrganizationResponse``, ``LogRatingResponse``,
  ``CreateEventResponse``).
* ``GET /products?page=&pageSize=`` (``products.list``): a page of ``products`` as a bare JSON
  list of ``ProductSummary`` objects (``ListProductsResponse``). Pages as the SDK documents
  them (``resources/products.py``, ``types/product_list_params.py``; the SDK has no page
  class for it): ``page`` from 1 (default 1), ``pageSize`` default 50, at most 100; a page
  past the end is an empty list.
* The read endpoints (organizations list and analytics, the review inbox, interactions,
  prompts and their analytics), the ``plan`` switch and the prompt objects ``systemPrompt``
  takes: ``greenflash_reads.py``, mixed into this class.
* Authentication: any ``Authorization: Bearer <key>`` passes unless ``valid_key`` is set;
  then any other value is 401 (``greenflash.AuthenticationError``).

Validation (first the documented rules, then the bot's own contract), each failure a 400
(``greenflash.BadRequestError``) with ``{"success": false, "error": "...", "issues": [...]}``:

* messages: ``externalUserId`` required; ``messages`` a non-empty list; each item has exactly
  one of ``role`` (user/assistant/system) / ``messageType`` (the documented list);
  ``toolName`` on ``tool_call`` items; not both ``parentMessageId`` and
  ``parentExternalMessageId``; ``createdAt`` an ISO-8601 string; ``sampleRate`` in 0..1.
  The docs accept any one of ``conversationId`` / ``externalConversationId`` / ``productId``;
  this stand-in also requires ``productId`` (the bot always sends it) unless
  ``require_product_id`` is set to False.
* ratings: ``productId``, ``rating``, ``ratingMin``, ``ratingMax`` (numbers, ``ratingMin <
  ratingMax``, rating within them) and one of ``externalMessageId`` /
  ``externalConversationId`` / ``messageId`` / ``conversationId``.
* events: ``eventType``, ``productId`` and ``value`` (a string, as documented);
  ``influence`` and ``valueType`` from their lists; ``qualityImpactScore`` in -1..1.
* users / organizations: ``externalUserId`` / ``externalOrganizationId`` required.
* every id field (``externalUserId``, ``externalConversationId``, ``externalOrganizationId``,
  ``externalMessageId``, ``parentExternalMessageId``, ``productId``, ``insertId``, ...) must
  be a string when present: the SDK sends an ``int`` id unchanged.

Like Greenflash, a message item whose ``externalMessageId`` is already stored in the same
conversation is skipped and answered with ``status: "deduplicated"``; an event whose
``insertId`` was seen is answered again without being stored twice. The error body's exact
shape is not documented by the SDK (only the status code matters to it); this one is a
plausible approximation.

Records: ``ratings`` (every rating stored, in arrival order: like Greenflash, a rating sent
twice is stored twice), ``accepted`` (answered 200), ``failed`` (answered with a fault,
401, 404 or 400, or dropped), ``abandoned`` (the client disconnected before an answer,
e.g. its timeout passed during ``latency`` or ``down()`` reset it); each a
:class:`Recorded`. ``stored_messages()`` is the deduplicated message items, each merged
with its call's top-level fields.

So that a long run (a 30-minute soak logs tens of thousands of messages) fits in memory,
each of these lists keeps its last ``records_kept`` entries whole; older ones are
compacted in place, so their count and order stay exact: a record keeps method, path,
status, error and times (no body, headers or query), a rating and a stored message keep
their ids only (no content). Deduplication does not read the stored messages: it reads
a compact ``(conversation, externalMessageId) -> messageId`` map that is never trimmed,
so it stays exact however old the first copy is, as Greenflash's is.

Faults, and what the SDK (1.4, ``DefaultAioHttpClient``) raises once its retries are spent:

=============================  =============================================================
``fail_next(429)``             ``greenflash.RateLimitError`` (retried by the SDK; it honours
                               ``Retry-After`` / ``retry-after-ms`` up to 60 s)
``fail_next(500)`` (any 5xx)   ``greenflash.InternalServerError`` (retried)
``drop_next()``                ``greenflash.APITimeoutError``, a subclass of
                               ``greenflash.APIConnectionError``: the connection is closed
                               without an answer; aiohttp raises ``ServerDisconnectedError``,
                               which the ``httpx_aiohttp`` transport maps to
                               ``httpx.ConnectTimeout`` (retried)
``down()`` / ``outage(s)``     ``greenflash.APITimeoutError`` (an ``APIConnectionError``) as
                               well: the listening socket is closed, so connecting is
                               refused, and open connections are reset (RST); aiohttp's
                               ``ClientConnectorError`` / ``ClientOSError`` map to
                               ``httpx.ConnectTimeout`` too (retried)
``latency`` > client timeout   ``greenflash.APITimeoutError`` (retried), from aiohttp's
                               ``SocketTimeoutError``: the request was sent and nothing was
                               stored (the handler is cancelled when the client gives up)
``answer_late_next(s)``        the same error, but the call *was* stored: the answer is
                               held back ``s`` seconds after storing, as a real server that
                               finished its work after the client's timeout
=============================  =============================================================

Which aiohttp error is under the SDK's error (its ``__cause__`` chain) tells a refused
connection (``ClientConnectorError``: nothing sent) from a late answer or a cut connection
(``SocketTimeoutError``, ``ServerDisconnectedError``: sent, outcome unknown).

Catch ``greenflash.APIConnectionError`` to cover all three connection-level cases.
Faults are queued, consumed one per request (any endpoint) in arrival order. ``in_flight``
counts requests being handled now (``latency`` included); ``max_in_flight`` is the highest
value it reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.standins.greenflash_reads import GreenflashReads, system_prompt_problems
from tests.standins.greenflash_validation import (
    Invalid,
    between,
    check,
    is_bool,
    is_datetime,
    is_number,
    is_object,
    is_string,
    now,
    one_of,
)
from tests.standins.lifecycle import StandIn

PREFIX = "/api/v1"

ROLES = {"user", "assistant", "system"}
MESSAGE_TYPES = {
    "user_message", "assistant_message", "system_message", "final_response", "thought",
    "tool_call", "observation", "retrieval", "memory_read", "memory_write", "chain_start",
    "chain_end", "embedding", "tool_error", "callback", "llm", "task", "workflow",
}
INFLUENCES = {"positive", "negative", "neutral"}
VALUE_TYPES = {"currency", "numeric", "text", "boolean"}

RECORDS_KEPT = 10_000  # entries of each record list kept whole; older ones are compacted

_RATING_IDS = ("productId", "rating", "conversationId", "externalConversationId",
               "messageId", "externalMessageId")
_MESSAGE_IDS = ("conversationId", "externalConversationId", "messageId", "externalMessageId",
                "externalUserId", "role", "messageType")

_DEFAULT_FAULT_MESSAGES = {
    400: "Bad request",
    401: "Invalid API key",
    403: "Forbidden",
    404: "Not found",
    408: "Request timeout",
    409: "Conflict",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


@dataclass(slots=True)
class Recorded:
    """One request as the stand-in saw it. ``repr`` hides the Authorization header."""

    method: str
    path: str  # relative to base_url, e.g. "/messages"
    json: Any  # the parsed body; None for GET; the raw text when it is not JSON
    headers: dict[str, str]  # names lower-cased
    query: dict[str, str]
    received_at: float  # time.monotonic() when the request arrived
    status: int | None = None  # what it was answered with; None when dropped or abandoned
    error: str | None = None  # why it failed, for failed and abandoned requests
    answered_at: float | None = field(default=None)

    def __repr__(self) -> str:
        headers = {
            name: ("<redacted>" if name == "authorization" else value)
            for name, value in self.headers.items()
        }
        return (
            f"Recorded({self.method} {self.path} status={self.status} error={self.error!r} "
            f"json={self.json!r} headers={headers!r})"
        )


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: Literal["fail", "drop", "late"]
    status: int = 0
    delay: float = 0.0
    headers: dict[str, str] | None = None
    body: Any = None
    path: str | None = None  # only requests to this path (relative, e.g. "/events")


class GreenflashStandIn(GreenflashReads, StandIn):
    """A Greenflash-compatible server on 127.0.0.1; see the module docstring for the subset."""

    def __init__(self, *, records_kept: int = RECORDS_KEPT) -> None:
        self.records_kept = records_kept
        self.valid_key: str | None = None
        self.latency: float = 0.0
        self.require_product_id: bool = True
        self.products: list[dict[str, Any]] = [
            {"id": "prod-standin", "name": "Stand-in product"},
        ]
        self.accepted: list[Recorded] = []
        self.ratings: list[dict[str, Any]] = []
        self.failed: list[Recorded] = []
        self.abandoned: list[Recorded] = []
        self.users: dict[str, dict[str, Any]] = {}  # participant by externalUserId
        self.organizations: dict[str, dict[str, Any]] = {}  # by externalOrganizationId
        self.in_flight: int = 0
        self.max_in_flight: int = 0
        self._stored: list[dict[str, Any]] = []
        self._message_ids: dict[tuple[str, str], str] = {}  # (conversation, external) -> id
        self._conversations: dict[tuple[str | None, str], str] = {}
        self._events: dict[str, str] = {}  # insertId -> eventId
        self._faults: deque[_Fault] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port: int | None = None
        self._outage_task: asyncio.Task[None] | None = None
        self._init_reads()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``, for ``GREENFLASH_BASE_URL`` or ``base_url=``."""
        if self._port is None:
            raise RuntimeError("GreenflashStandIn is not started")
        return f"http://127.0.0.1:{self._port}{PREFIX}"

    @property
    def is_up(self) -> bool:
        return self._site is not None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", PREFIX + "/{tail:.*}", self._handle)
        # handler_cancellation: a client that gives up (timeout) ends its handler at once.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._outage_task is not None:
            self._outage_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outage_task
            self._outage_task = None
        if self._runner is None:
            return
        self._reset_connections()
        await self._runner.cleanup()
        self._runner = None
        self._site = None

    async def down(self) -> None:
        """Stop listening (connections are refused) and reset every open connection."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        self._reset_connections()

    async def up(self) -> None:
        """Listen again on the same port."""
        if self._runner is None:
            raise RuntimeError("GreenflashStandIn is not started")
        if self._site is None:
            site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
            await site.start()
            self._site = site

    async def outage(self, seconds: float) -> None:
        """Go down now and come back up after ``seconds`` (in the background)."""
        await self.down()

        async def come_back() -> None:
            await asyncio.sleep(seconds)
            await self.up()

        if self._outage_task is not None:
            self._outage_task.cancel()
        self._outage_task = asyncio.create_task(come_back())

    def _reset_connections(self) -> None:
        server = self._runner.server if self._runner is not None else None
        for handler in server.connections if server is not None else []:
            transport = handler.transport
            if transport is None or transport.is_closing():
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close with RST, like a crashed server
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()

    # -- faults ----------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path`` only, if given) with ``status``
        (and ``headers``, ``body``)."""
        only = None if path is None else _relative(path)
        for _ in range(times):
            self._faults.append(
                _Fault("fail", status=status, headers=headers, body=body, path=only)
            )

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next ``times`` requests without answering."""
        for _ in range(times):
            self._faults.append(_Fault("drop"))

    def answer_late_next(self, seconds: float, *, path: str | None = None) -> None:
        """Store the next request (to ``path`` only, if given) as usual, then hold its
        answer back ``seconds``: a client whose timeout is shorter gives up on a call
        that Greenflash did store."""
        only = None if path is None else _relative(path)
        self._faults.append(_Fault("late", delay=seconds, path=only))

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    def _take_fault(self, path: str) -> _Fault | None:
        """The first queued fault that applies to a request to ``path``, taken off the queue."""
        for fault in self._faults:
            if fault.path in (None, path):
                self._faults.remove(fault)
                return fault
        return None

    # -- reading what arrived --------------------------------------------------------------

    def accepted_for(self, path: str) -> list[Recorded]:
        """Accepted requests to ``path`` ("/messages" or "/api/v1/messages")."""
        path = _relative(path)
        return [record for record in self.accepted if record.path == path]

    def failed_for(self, path: str) -> list[Recorded]:
        path = _relative(path)
        return [record for record in self.failed if record.path == path]

    async def wait_for_accepted(
        self, path: str, count: int, timeout: float = 5.0
    ) -> list[Recorded]:
        """Wait until ``count`` requests to ``path`` were accepted; returns them."""
        deadline = time.monotonic() + timeout
        while len(found := self.accepted_for(path)) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {count} accepted {_relative(path)} requests within {timeout}s, "
                    f"got {len(found)} (failed: {len(self.failed_for(path))})"
                )
            await asyncio.sleep(0.005)
        return found

    def stored_messages(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Deduplicated message items in arrival order, optionally of one conversation.

        Each is the item as sent, plus the call's top-level fields it did not set itself
        (``externalUserId``, ``externalConversationId``, ``productId``, ``model``, ...); the
        call's ``properties`` are under ``conversationProperties``; ``conversationId`` and
        ``messageId`` are the stand-in's internal ids. ``conversation_id`` matches either
        the external or the internal conversation id.
        """
        return [
            message for message in self._stored
            if conversation_id is None
            or conversation_id in (message.get("externalConversationId"),
                                   message["conversationId"])
        ]

    # -- record keeping --------------------------------------------------------------------

    def _keep(
        self, records: list[Any], entry: Any, keys: tuple[str, ...] | None = None
    ) -> None:
        """Append ``entry``; the one that just fell past ``records_kept`` is compacted to
        ``keys`` (a rating, a stored message) or to a bare request (a :class:`Recorded`)."""
        records.append(entry)
        index = len(records) - 1 - self.records_kept
        if index < 0:
            return
        old = records[index]
        if keys is None:
            old.json = None
            old.headers, old.query = {}, {}
        else:
            records[index] = {key: old[key] for key in keys if key in old}

    # -- the one handler -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        record = Recorded(
            method=request.method,
            path="/" + request.match_info["tail"],
            json=None,
            headers={name.lower(): value for name, value in request.headers.items()},
            query=dict(request.query),
            received_at=time.monotonic(),
        )
        try:
            fault = self._take_fault(record.path)
            raw = await request.read()
            if raw:
                try:
                    record.json = json.loads(raw)
                except ValueError:
                    record.json = raw.decode("utf-8", "replace")
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            response = await self._answer(request, record, fault)
            if fault is not None and fault.kind == "late":
                await asyncio.sleep(fault.delay)
            return response
        except asyncio.CancelledError:
            if record.answered_at is None and record.status is None and record.error is None:
                record.error = "client disconnected before an answer"
                self._keep(self.abandoned, record)
            raise
        finally:
            self.in_flight -= 1

    async def _answer(
        self, request: web.Request, record: Recorded, fault: _Fault | None
    ) -> web.StreamResponse:
        if fault is not None and fault.kind == "drop":
            record.error = "dropped by drop_next()"
            self._keep(self.failed, record)
            if request.transport is not None:
                request.transport.close()
            await asyncio.get_running_loop().create_future()  # cancelled by the disconnect
        if fault is not None and fault.kind == "fail":
            message = _DEFAULT_FAULT_MESSAGES.get(fault.status, f"HTTP {fault.status}")
            body = fault.body if fault.body is not None else {"success": False, "error": message}
            why = f"fail_next({fault.status})"
            return self._fail(record, fault.status, body, fault.headers, why)
        given = record.headers.get("authorization")
        if self.valid_key is not None and given != f"Bearer {self.valid_key}":
            body = {"success": False, "error": "Invalid API key"}
            return self._fail(record, 401, body, None, "authentication")
        try:
            result = self._route(record)
        except Invalid as invalid:
            body = {"success": False, "error": str(invalid), "issues": invalid.problems}
            return self._fail(record, invalid.status, body, None, str(invalid))
        record.status = 200
        record.answered_at = time.monotonic()
        self._keep(self.accepted, record)
        return web.json_response(result, status=200)

    def _fail(
        self,
        record: Recorded,
        status: int,
        body: Any,
        headers: dict[str, str] | None,
        why: str,
    ) -> web.Response:
        record.status = status
        record.error = why
        record.answered_at = time.monotonic()
        self._keep(self.failed, record)
        return web.json_response(body, status=status, headers=headers)

    def _route(self, record: Recorded) -> Any:
        routes: dict[tuple[str, str], Callable[[Recorded], Any]] = {
            ("POST", "/messages"): self._messages,
            ("POST", "/users"): self._users,
            ("POST", "/organizations"): self._organizations,
            ("POST", "/ratings"): self._ratings,
            ("POST", "/events"): self._events_create,
            ("GET", "/products"): self._products,
        }
        endpoint = routes.get((record.method, record.path))
        if endpoint is None:
            read = self._read_route(record.method, record.path)
            if read is None:
                raise Invalid(404, [f"no route for {record.method} {record.path}"])
            return read(record.query)
        if record.method == "POST" and not isinstance(record.json, dict):
            raise Invalid(400, ["body: expected a JSON object"])
        return endpoint(record)

    # -- endpoints -------------------------------------------------------------------------

    def _messages(self, record: Recorded) -> dict[str, Any]:
        body: dict[str, Any] = record.json
        problems: list[str] = []
        check(
            body, problems,
            required={"externalUserId": is_string,
                      **({"productId": is_string} if self.require_product_id else {})},
            optional={
                "productId": is_string, "conversationId": is_string,
                "externalConversationId": is_string, "externalOrganizationId": is_string,
                "model": is_string, "properties": is_object, "forceSample": is_bool,
                "sampleRate": between(0, 1), "voiceCall": is_object,
            },
        )
        if "systemPrompt" in body:
            problems += system_prompt_problems(body["systemPrompt"])
        if not any(body.get(key) for key in
                   ("conversationId", "externalConversationId", "productId")):
            problems.append("one of conversationId, externalConversationId, productId "
                            "must be provided")
        items = body.get("messages")
        if not isinstance(items, list) or not items:
            problems.append("messages: expected a non-empty array")
            items = []
        for index, item in enumerate(items):
            _check_item(item, f"messages[{index}].", problems)
        if problems:
            raise Invalid(400, problems)

        conversation = self._conversation_for(body)
        self._note_interaction(conversation, body)
        prompt_id, component_ids = self._take_system_prompt(body, conversation)
        top = {key: value for key, value in body.items() if key not in ("messages", "properties")}
        results = []
        for item in items:
            message_type = item.get("messageType") or f"{item['role']}_message"
            external_id = item.get("externalMessageId")
            seen = self._message_ids.get((conversation, external_id)) if external_id else None
            if seen is not None:
                results.append({"messageId": seen, "messageType": message_type,
                                "status": "deduplicated", "externalMessageId": external_id})
                continue
            message_id = f"msg-{next(self._ids)}"
            if external_id:
                self._message_ids[(conversation, external_id)] = message_id
            stored = {**top, **item, "conversationId": conversation, "messageId": message_id}
            if "properties" in body:
                stored["conversationProperties"] = body["properties"]
            self._keep(self._stored, stored, _MESSAGE_IDS)
            results.append({"messageId": message_id, "messageType": message_type,
                            "status": "created", "externalMessageId": external_id})
        self._participant(body["externalUserId"], body.get("externalOrganizationId"), {})
        return {
            "success": True,
            "conversationId": conversation,
            "messages": results,
            "systemPromptComponentIds": component_ids,
            "systemPromptPromptId": prompt_id,
        }

    def _conversation_for(self, body: dict[str, Any]) -> str:
        if body.get("conversationId"):
            return str(body["conversationId"])
        external = body.get("externalConversationId")
        if not external:
            return f"conv-{next(self._ids)}"
        key = (body.get("productId"), external)
        if key not in self._conversations:
            self._conversations[key] = f"conv-{next(self._ids)}"
        return self._conversations[key]

    def _users(self, record: Recorded) -> dict[str, Any]:
        body: dict[str, Any] = record.json
        problems: list[str] = []
        check(
            body, problems,
            required={"externalUserId": is_string},
            optional={"anonymized": is_bool, "email": is_string, "name": is_string,
                      "phone": is_string, "externalOrganizationId": is_string,
                      "organizationId": is_string, "properties": is_object},
        )
        if problems:
            raise Invalid(400, problems)
        fields: dict[str, Any] = {
            key: body[key] for key in ("name", "email", "phone", "anonymized", "properties")
            if key in body
        }
        participant = self._participant(
            body["externalUserId"], body.get("externalOrganizationId"), fields
        )
        return {"success": True, "participant": participant}

    def _participant(
        self, external_id: str, organization: str | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        participant = self.users.setdefault(external_id, {
            "id": f"user-{next(self._ids)}", "externalId": external_id, "anonymized": False,
            "properties": {}, "createdAt": now(),
        })
        if organization:
            participant["externalOrganizationId"] = organization
            participant["organizationId"] = self._organization(organization, {})["id"]
        participant.update(fields)
        participant["updatedAt"] = now()
        return participant

    def _organizations(self, record: Recorded) -> dict[str, Any]:
        body: dict[str, Any] = record.json
        problems: list[str] = []
        check(
            body, problems,
            required={"externalOrganizationId": is_string},
            optional={"name": is_string, "properties": is_object},
        )
        if problems:
            raise Invalid(400, problems)
        fields: dict[str, Any] = {key: body[key] for key in ("name", "properties") if key in body}
        organization = self._organization(body["externalOrganizationId"], fields)
        return {"success": True, "organization": organization}

    def _organization(self, external_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        organization = self.organizations.setdefault(external_id, {
            "id": f"org-{next(self._ids)}", "externalId": external_id, "properties": {},
            "createdAt": now(),
        })
        organization.update(fields)
        organization["updatedAt"] = now()
        return organization

    def _ratings(self, record: Recorded) -> dict[str, Any]:
        body: dict[str, Any] = record.json
        problems: list[str] = []
        check(
            body, problems,
            required={"productId": is_string, "rating": is_number,
                      "ratingMin": is_number, "ratingMax": is_number},
            optional={"conversationId": is_string, "externalConversationId": is_string,
                      "messageId": is_string, "externalMessageId": is_string,
                      "feedback": is_string, "ratedAt": is_datetime},
        )
        targets = ("conversationId", "externalConversationId", "messageId", "externalMessageId")
        if not any(body.get(key) for key in targets):
            problems.append("one of " + ", ".join(targets) + " must be provided")
        low, high, rating = body.get("ratingMin"), body.get("ratingMax"), body.get("rating")
        if isinstance(low, int | float) and isinstance(high, int | float):
            if low >= high:
                problems.append(f"ratingMin ({low}) must be less than ratingMax ({high})")
            elif isinstance(rating, int | float) and not low <= rating <= high:
                problems.append(f"rating ({rating}) must be between {low} and {high}")
        if problems:
            raise Invalid(400, problems)
        self._keep(self.ratings, body, _RATING_IDS)
        return {"success": True}

    def _events_create(self, record: Recorded) -> dict[str, Any]:
        body: dict[str, Any] = record.json
        problems: list[str] = []
        check(
            body, problems,
            required={"eventType": is_string, "productId": is_string, "value": is_string},
            optional={
                "conversationId": is_string, "externalConversationId": is_string,
                "externalOrganizationId": is_string, "externalUserId": is_string,
                "insertId": is_string, "organizationId": is_string, "userId": is_string,
                "eventAt": is_datetime, "forceSample": is_bool, "properties": is_object,
                "influence": one_of(*INFLUENCES), "valueType": one_of(*VALUE_TYPES),
                "qualityImpactScore": between(-1, 1), "sampleRate": between(0, 1),
            },
        )
        if problems:
            raise Invalid(400, problems)
        insert_id = body.get("insertId")
        if insert_id and insert_id in self._events:
            return {"success": True, "eventId": self._events[insert_id]}
        event_id = f"evt-{next(self._ids)}"
        if insert_id:
            self._events[insert_id] = event_id
        return {"success": True, "eventId": event_id}

    def _products(self, record: Recorded) -> list[dict[str, Any]]:
        try:
            page = int(float(record.query.get("page", "1")))
            size = int(float(record.query.get("pageSize", "50")))
        except ValueError as error:
            raise Invalid(400, [f"page/pageSize: {error}"]) from error
        if page < 1 or not 1 <= size <= 100:
            raise Invalid(400, ["page must be >= 1 and pageSize within 1..100"])
        stamp = now()
        summaries = [
            {"createdAt": stamp, "updatedAt": stamp, "color": None, "icon": None, **product}
            for product in self.products
        ]
        return summaries[(page - 1) * size: page * size]


def _check_item(item: Any, where: str, problems: list[str]) -> None:
    if not isinstance(item, dict):
        problems.append(f"{where[:-1]}: expected an object")
        return
    has_role, has_type = item.get("role") is not None, item.get("messageType") is not None
    if has_role == has_type:
        problems.append(f"{where}: exactly one of role / messageType is required")
    if has_role and item["role"] not in ROLES:
        problems.append(f"{where}role: expected one of {sorted(ROLES)}, got {item['role']!r}")
    if has_type and item["messageType"] not in MESSAGE_TYPES:
        problems.append(f"{where}messageType: unknown type {item['messageType']!r}")
    if item.get("messageType") == "tool_call" and not item.get("toolName"):
        problems.append(f"{where}toolName: Required for tool_call messages")
    if item.get("parentMessageId") is not None and item.get("parentExternalMessageId") is not None:
        problems.append(f"{where}: parentMessageId cannot be used with parentExternalMessageId")
    check(
        item, problems, where=where,
        optional={
            "content": is_string, "context": is_string, "createdAt": is_datetime,
            "externalMessageId": is_string, "parentExternalMessageId": is_string,
            "parentMessageId": is_string, "model": is_string, "toolName": is_string,
            "input": is_object, "output": is_object, "properties": is_object,
            "voice": is_object,
        },
    )


def _relative(path: str) -> str:
    return path.removeprefix(PREFIX) if path.startswith(PREFIX + "/") else path
