"""A local stand-in for the part of the OpenAI REST API the bot uses.

It is a real HTTP server (aiohttp) on 127.0.0.1 with an ephemeral port, so the real
``openai.AsyncOpenAI(base_url=standin.base_url, api_key=...)`` (or ``OPENAI_BASE_URL``)
talks to it over TCP exactly as it would talk to OpenAI.

Covered:

* ``POST /v1/chat/completions``: ``stream=false`` answers one ``chat.completion`` object
  with ``usage``; ``stream=true`` answers server-sent events: a role chunk, the content in
  ``chunk_size``-character chunks, a ``finish_reason`` chunk, a usage chunk (``choices``
  empty) when ``stream_options.include_usage`` is true, then ``data: [DONE]``. Requests are
  checked like OpenAI checks them: ``model`` and a non-empty ``messages`` list with known
  roles (else 400 ``invalid_request_error``), ``stream_options`` only with ``stream=true``
  (400), a model outside ``models`` is 404 ``model_not_found``. ``max_tokens`` (or
  ``max_completion_tokens``) cuts the reply, with ``finish_reason="length"``.
* ``GET /v1/models`` and ``GET /v1/models/{id}`` (404 ``model_not_found`` for an id
  outside ``models``), for the ``doctor`` command.
* Model snapshots: a response's ``model`` names the dated snapshot that served it
  (``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``, see ``SNAPSHOTS``), as OpenAI's responses
  do (API reference, "The chat completion object": ``model`` is "The model used for the
  chat completion"; models guide: an alias points to a dated snapshot). A snapshot id may
  be requested too.
* Reasoning models (ids starting ``gpt-5``, ``o1``, ``o3``, ``o4``; OpenAI's reasoning guide
  and the ``max_tokens`` entry of the Chat Completions reference: "not compatible with o-series
  models") answer ``max_tokens`` with 400 ``unsupported_parameter`` (param ``max_tokens``) and
  a ``temperature`` other than 1 with 400 ``unsupported_value`` (param ``temperature``), in
  OpenAI's words: see ``openai_wire.reasoning_model_problem``. These bodies are the ones
  OpenAI sends,
  as quoted in openai-python and client issue threads (e.g. griptape-ai/ComfyUI-Griptape#312,
  gabrii/Cursor-Azure-GPT-5#33).
* ``max_tokens_only = True`` plays an older OpenAI-compatible server (Azure OpenAI before
  API version 2024-09-01-preview, early local servers): it knows ``max_tokens`` only and
  answers ``max_completion_tokens`` with 400 "Unrecognized request argument supplied:
  max_completion_tokens" (``param`` null, as Azure sends it; lobehub/lobehub#7113).
* Authentication: with ``valid_key`` set, anything but ``Authorization: Bearer <valid_key>``
  is 401 ``invalid_api_key``; with ``valid_key = None`` (default) any key passes.

* Tool calling (``tools``, ``tool_choice``, ``tool_calls`` and ``tool`` messages), streamed
  and not, with OpenAI's 400s for a broken call/answer sequence or malformed tools, and
  ``no_tools_models`` that refuse ``tools`` as a local server does: see
  :mod:`tests.standins.openai_tools`, which names the SDK types each shape follows.

Not covered: ``n > 1``, logprobs, the Responses API, embeddings.

Token counts are an approximation (about four characters per token, plus three per
message), deterministic so tests can assert them; they count tool calls (name and
arguments), tool messages and the ``tools`` definitions too.

Replies: ``script(*replies)`` queues replies, one per successful completion; when the
queue is empty the ``reply_with(fn)`` function computes the reply from the request body;
without it the reply is ``"echo: <content of the last user message>"``.
``script_tool_calls([{"name": ..., "arguments": {...}}, ...])`` queues one round of tool
calls (ids ``call_...`` generated and returned) instead of text, and ``reply_with``'s
function may return such a list too, so a test can answer from the tool results it
receives (:func:`tool_results` reads them from a request). A model can only call tools it
is offered: to a request without ``tools`` (or with ``tool_choice: "none"``) a round of
calls is never played; the queued round waits and the reply is computed as when nothing is
scripted. ``max_tokens`` does not cut tool calls.
``script_reply(text, finish_reason="length")`` queues one reply that ends as the token limit
would end it; ``script_refusal(text)`` one that the model refuses: ``message.content`` is
null and ``message.refusal`` holds the text (streamed as ``delta.refusal``), as the
reference's "The chat completion object" / "chunk object" describe.

Faults are queued and consumed in order, one per request to any endpoint (a fault does not
consume a scripted reply). What the openai SDK (3.57, httpx2 transport) raises for each:

=====================================  ===================================================
``fail_next(429)``                     ``openai.RateLimitError`` (``.code`` and ``.body``
                                       come from the error object; pass
                                       ``body=INSUFFICIENT_QUOTA`` for the quota case)
``fail_next(500)`` (any 5xx)           ``openai.InternalServerError``
``fail_next(400/401/403/404/422)``     ``BadRequestError`` / ``AuthenticationError`` /
                                       ``PermissionDeniedError`` / ``NotFoundError`` /
                                       ``UnprocessableEntityError``
``hang_next()``                        ``openai.APITimeoutError`` once the client's timeout
                                       passes (the server waits until the client leaves)
``cut_stream_next(after_chars=n)``     the stream yields chunks holding exactly ``n``
                                       characters, then iteration raises
                                       ``openai.APIConnectionError`` (not a timeout; its
                                       ``__cause__`` is ``httpx2.RemoteProtocolError``
                                       "incomplete chunked read"). The connection is closed
                                       without the terminating chunk and without
                                       ``[DONE]``. On a non-streaming request the JSON
                                       body is cut after ``n`` bytes:
                                       ``openai.APIConnectionError`` from ``create()``.
=====================================  ===================================================

A stopped stand-in refuses connections: ``openai.APIConnectionError`` (cause
``httpx2.ConnectError``), which is how to model "OpenAI unreachable".

The SDK retries 429, 5xx and connection errors ``max_retries`` times (default 2), so a
fault meant to reach the caller needs ``times=max_retries + 1`` or ``max_retries=0``.

Records: ``requests`` holds the parsed JSON body of every chat completion request, failed
ones included, in arrival order; ``request_headers`` holds the matching headers (names
lower-cased). So that a long run fits in memory (every body carries the whole context),
only the last ``requests_kept`` are kept whole: an older body keeps ``model`` and
``stream`` only and its headers are emptied, so both lists' lengths stay exact.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.standins import openai_tools as tools
from tests.standins import openai_wire as wire
from tests.standins.lifecycle import StandIn, abort_connections
from tests.standins.openai_content import content_problem, openai_error
from tests.standins.openai_tools import ScriptedCall, ToolCall, tool_results
from tests.standins.openai_wire import SNAPSHOTS, json_response

__all__ = ["INSUFFICIENT_QUOTA", "SNAPSHOTS", "OpenAIStandIn", "openai_error", "tool_results"]

INSUFFICIENT_QUOTA: dict[str, Any] = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing "
        "details. For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
"""The body OpenAI sends with a 429 when the account has no credit left."""

REQUESTS_KEPT = 10_000  # chat completion requests kept whole; older ones are compacted

ReplyFn = Callable[[dict[str, Any]], str | Sequence[ScriptedCall]]
"""Computes a reply from the request body: text, or a round of calls to script."""


@dataclass(frozen=True, slots=True)
class _Reply:
    text: str
    finish_reason: str = "stop"
    refusal: bool = False
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: Literal["fail", "hang", "cut"]
    status: int = 0
    body: Any = None
    headers: dict[str, str] | None = None
    after_chars: int = 0


class OpenAIStandIn(StandIn):
    """An OpenAI-compatible server on 127.0.0.1; see the module docstring for the subset."""

    def __init__(self, *, requests_kept: int = REQUESTS_KEPT) -> None:
        self.requests_kept = requests_kept
        self.models: set[str] = {"gpt-4o-mini", "gpt-4o", "gpt-5-mini", "o4-mini"}
        self.text_only_models: set[str] = set()
        """Models that play a text-only one (``gpt-3.5-turbo``): image parts get OpenAI's
        400 (see :mod:`tests.standins.openai_content`)."""
        self.no_tools_models: set[str] = set()
        """Models without tool support (a local server's): ``tools`` get its 400 (see
        :mod:`tests.standins.openai_tools`)."""
        self.max_tokens_only = False
        self.valid_key: str | None = None
        self.latency: float = 0.0
        self.chunk_delay: float = 0.0
        self.chunk_size: int = 4
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.usage_served: list[dict[str, int]] = []
        """The ``usage`` of every completion answered, in order (what a client is billed)."""
        self._replies: deque[_Reply] = deque()
        self._reply_fn: ReplyFn | None = None
        self._faults: deque[_Fault] = deque()
        self._ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``AsyncOpenAI(base_url=...)`` or OPENAI_BASE_URL."""
        if self._port is None:
            raise RuntimeError("OpenAIStandIn is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model}", self._retrieve_model)
        # handler_cancellation: a client that gives up cancels its handler (ends a hang).
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is None:
            return
        abort_connections(self._runner)
        await self._runner.cleanup()
        self._runner = None

    # -- scripting -------------------------------------------------------------------------

    def script(self, *replies: str) -> None:
        """Queue replies; each successful chat completion consumes the next one."""
        self._replies.extend(_Reply(reply) for reply in replies)

    def script_reply(self, text: str, *, finish_reason: str = "stop") -> None:
        """Queue one reply ending with ``finish_reason`` (``"length"``: cut by the limit)."""
        self._replies.append(_Reply(text, finish_reason))

    def script_refusal(self, text: str) -> None:
        """Queue one refusal: ``content`` null, ``refusal`` holding ``text``."""
        self._replies.append(_Reply(text, refusal=True))

    def script_tool_calls(self, calls: Sequence[ScriptedCall]) -> list[str]:
        """Queue one round of tool calls; returns the ``call_...`` ids it will carry."""
        reply = self._calls_reply(calls)
        self._replies.append(reply)
        return [call.id for call in reply.tool_calls]

    def reply_with(self, fn: ReplyFn | None) -> None:
        """Compute the reply (text or a round of calls) from the request body when nothing
        is scripted (None: echo)."""
        self._reply_fn = fn

    def _calls_reply(self, calls: Sequence[ScriptedCall]) -> _Reply:
        made = tuple(ToolCall.of(call, f"call_standin{next(self._call_ids):012d}")
                     for call in calls)
        if not made:
            raise ValueError("a round of tool calls needs at least one call")
        return _Reply("", "tool_calls", tool_calls=made)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` and an OpenAI error body."""
        for _ in range(times):
            self._faults.append(_Fault("fail", status=status, body=body, headers=headers))

    def hang_next(self, times: int = 1) -> None:
        """Never answer the next ``times`` requests; they end when the client disconnects."""
        for _ in range(times):
            self._faults.append(_Fault("hang"))

    def cut_stream_next(self, after_chars: int) -> None:
        """Send ``after_chars`` characters of the next reply, then drop the connection."""
        self._faults.append(_Fault("cut", after_chars=after_chars))

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    async def wait_for_requests(
        self, n: int, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until ``n`` chat completion requests arrived; returns the first ``n`` bodies."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {n} chat completion requests within {timeout}s, "
                    f"got {len(self.requests)}"
                )
            await asyncio.sleep(0.005)
        return self.requests[:n]

    def _compact(self, index: int) -> None:
        """The request that just fell past ``requests_kept`` keeps ``model`` and ``stream``."""
        if index >= 0:
            old = self.requests[index]
            self.requests[index] = {key: old[key] for key in ("model", "stream") if key in old}
            self.request_headers[index] = {}

    # -- handlers --------------------------------------------------------------------------

    async def _prologue(self, request: web.Request) -> web.StreamResponse | _Fault | None:
        """Latency, then a queued fault, then authentication. None means: go on."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self._faults:
            fault = self._faults.popleft()
            if fault.kind == "fail":
                return wire.error_response(fault.status, fault.body, fault.headers)
            if fault.kind == "hang":
                await wire.wait_for_disconnect()
            return fault
        if self.valid_key is not None:
            given = request.headers.get("Authorization", "")
            if given != f"Bearer {self.valid_key}":
                message = (
                    "You didn't provide an API key." if not given
                    else "Incorrect API key provided. You can find your API key at "
                    "https://platform.openai.com/account/api-keys."
                )
                return json_response(401, openai_error(message, "invalid_request_error",
                                               "invalid_api_key" if given else None))
        return None

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        early = await self._prologue(request)
        if isinstance(early, web.StreamResponse):
            return early
        if isinstance(early, _Fault):
            return await wire.cut_body(request, {"object": "list", "data": []}, early.after_chars)
        data = [wire.model_object(model) for model in sorted(self.models)]
        return json_response(200, {"object": "list", "data": data})

    async def _retrieve_model(self, request: web.Request) -> web.StreamResponse:
        early = await self._prologue(request)
        if isinstance(early, web.StreamResponse):
            return early
        model = request.match_info["model"]
        if isinstance(early, _Fault):
            return await wire.cut_body(request, wire.model_object(model), early.after_chars)
        if not self._known(model):
            return wire.model_not_found(model)
        return json_response(200, wire.model_object(model))

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.requests.append(body if isinstance(body, dict) else {"_raw": body})
        self.request_headers.append({k.lower(): v for k, v in request.headers.items()})
        self._compact(len(self.requests) - 1 - self.requests_kept)

        early = await self._prologue(request)
        if isinstance(early, web.StreamResponse):
            return early
        if problem := self._invalid(body):
            return problem
        scripted = self._next_reply(body)
        reply, finish_reason = self._apply_max_tokens(body, scripted)
        completion_id = f"chatcmpl-standin{next(self._ids)}"
        counted = wire.usage(body, tools.calls_cost_text(scripted.tool_calls) or reply)
        self.usage_served.append(counted)
        model = SNAPSHOTS.get(body["model"], body["model"])
        cut_after = early.after_chars if isinstance(early, _Fault) else None
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await wire.write_stream(
                request, model=model, completion_id=completion_id,
                deltas=self._deltas(scripted, reply, cut_after), finish_reason=finish_reason,
                usage=counted if include_usage else None, cut=cut_after is not None,
                chunk_delay=self.chunk_delay,
            )
        content, refusal = (None, reply) if scripted.refusal else (reply, None)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal,
                                   "annotations": []}
        if scripted.tool_calls:
            message["content"] = None
            message["tool_calls"] = [call.as_message_item() for call in scripted.tool_calls]
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason}],
            "usage": counted,
            "service_tier": "default",
            "system_fingerprint": "fp_standin",
        }
        if cut_after is not None:
            return await wire.cut_body(request, completion, cut_after)
        return json_response(200, completion, {"x-request-id": f"req_{completion_id}"})

    def _invalid(self, body: Any) -> web.Response | None:
        """OpenAI's own request checks, as 400 (or 404 for an unknown model)."""
        if problem := wire.request_problem(body):
            return json_response(400, problem)
        if not self._known(body["model"]):
            return wire.model_not_found(body["model"])
        if self.max_tokens_only and "max_completion_tokens" in body:
            return json_response(400, openai_error(
                "Unrecognized request argument supplied: max_completion_tokens",
                "invalid_request_error"))
        if body.get("tools") and body["model"] in self.no_tools_models:
            return json_response(400, tools.no_tools_problem(body["model"]))
        problem = tools.tool_problem(body) or content_problem(
            body, vision=body["model"] not in self.text_only_models
        )
        if problem:
            return json_response(400, problem)
        if wire.is_reasoning_model(body["model"]):
            return wire.reasoning_model_problem(body)
        return None

    def _known(self, model: str) -> bool:
        return model in self.models or any(
            SNAPSHOTS.get(alias) == model for alias in self.models
        )

    def _next_reply(self, body: dict[str, Any]) -> _Reply:
        """The next scripted reply, else ``reply_with``'s, else the echo; a round of calls
        only for a request that offers tools."""
        callable_ = tools.offers_tools(body)
        if self._replies and (callable_ or not self._replies[0].tool_calls):
            return self._replies.popleft()
        if self._reply_fn is not None:
            computed = self._reply_fn(body)
            if isinstance(computed, str):
                return _Reply(computed)
            if callable_:
                return self._calls_reply(computed)
        users = [m for m in body["messages"] if m.get("role") == "user"]
        return _Reply(f"echo: {wire.text_of(users[-1].get('content')) if users else ''}")

    @staticmethod
    def _apply_max_tokens(body: dict[str, Any], reply: _Reply) -> tuple[str, str]:
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and wire.estimate_tokens(reply.text) > limit:
            return reply.text[: limit * 4], "length"
        return reply.text, reply.finish_reason

    def _deltas(self, scripted: _Reply, text: str, cut_after: int | None) -> list[dict[str, Any]]:
        """Every chunk's ``delta``: the role, then text pieces or the calls' deltas; a cut
        keeps ``cut_after`` characters of text or arguments."""
        size = max(1, self.chunk_size)
        first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        if scripted.tool_calls:
            deltas = tools.tool_call_deltas(scripted.tool_calls, size, cut_after)
            return [{**first, "content": None, **deltas[0]}, *deltas[1:]]
        shown = text if cut_after is None else text[:cut_after]
        field = "refusal" if scripted.refusal else "content"
        return [first, *({field: shown[i:i + size]} for i in range(0, len(shown), size))]
