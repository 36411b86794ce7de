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
  OpenAI's words: see ``_reasoning_model_problem``. These bodies are the ones OpenAI sends,
  as quoted in openai-python and client issue threads (e.g. griptape-ai/ComfyUI-Griptape#312,
  gabrii/Cursor-Azure-GPT-5#33).
* ``max_tokens_only = True`` plays an older OpenAI-compatible server (Azure OpenAI before
  API version 2024-09-01-preview, early local servers): it knows ``max_tokens`` only and
  answers ``max_completion_tokens`` with 400 "Unrecognized request argument supplied:
  max_completion_tokens" (``param`` null, as Azure sends it; lobehub/lobehub#7113).
* Authentication: with ``valid_key`` set, anything but ``Authorization: Bearer <valid_key>``
  is 401 ``invalid_api_key``; with ``valid_key = None`` (default) any key passes.

Not covered: tools/function calling, ``n > 1``, logprobs, the Responses API, embeddings.

Token counts are an approximation (about four characters per token, plus three per
message), deterministic so tests can assert them.

Replies: ``script(*replies)`` queues replies, one per successful completion; when the
queue is empty the ``reply_with(fn)`` function computes the reply from the request body;
without it the reply is ``"echo: <content of the last user message>"``.
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
lower-cased).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.standins.lifecycle import StandIn, abort_connections
from tests.standins.openai_content import content_problem, openai_error

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

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: ("The model does not exist or you do not have access to it.",
          "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests. Please try again in 20ms.", "requests",
          "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}

SNAPSHOTS: dict[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "o3": "o3-2025-04-16",
    "o4-mini": "o4-mini-2025-04-16",
}
"""Alias → the dated snapshot OpenAI serves it with (OpenAI's models pages)."""

REASONING_PREFIXES = ("gpt-5", "o1", "o3", "o4")


def is_reasoning_model(model: str) -> bool:
    return model.startswith(REASONING_PREFIXES)


def estimate_tokens(text: str) -> int:
    """The stand-in's token count: about four characters per token."""
    return math.ceil(len(text) / 4)


def _text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


@dataclass(frozen=True, slots=True)
class _Reply:
    text: str
    finish_reason: str = "stop"
    refusal: bool = False


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: Literal["fail", "hang", "cut"]
    status: int = 0
    body: Any = None
    headers: dict[str, str] | None = None
    after_chars: int = 0


class OpenAIStandIn(StandIn):
    """An OpenAI-compatible server on 127.0.0.1; see the module docstring for the subset."""

    def __init__(self) -> None:
        self.models: set[str] = {"gpt-4o-mini", "gpt-4o", "gpt-5-mini", "o4-mini"}
        self.text_only_models: set[str] = set()
        """Models that play a text-only one (``gpt-3.5-turbo``): image parts get OpenAI's
        400 (see :mod:`tests.standins.openai_content`)."""
        self.max_tokens_only = False
        self.valid_key: str | None = None
        self.latency: float = 0.0
        self.chunk_delay: float = 0.0
        self.chunk_size: int = 4
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._replies: deque[_Reply] = deque()
        self._reply_fn: Callable[[dict[str, Any]], str] | None = None
        self._faults: deque[_Fault] = deque()
        self._ids = itertools.count(1)
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

    def reply_with(self, fn: Callable[[dict[str, Any]], str] | None) -> None:
        """Compute the reply from the request body when nothing is scripted (None: echo)."""
        self._reply_fn = fn

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

    # -- handlers --------------------------------------------------------------------------

    async def _prologue(self, request: web.Request) -> web.StreamResponse | _Fault | None:
        """Latency, then a queued fault, then authentication. None means: go on."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self._faults:
            fault = self._faults.popleft()
            if fault.kind == "fail":
                return self._error_response(fault.status, fault.body, fault.headers)
            if fault.kind == "hang":
                await _wait_for_disconnect()
            return fault
        if self.valid_key is not None:
            given = request.headers.get("Authorization", "")
            if given != f"Bearer {self.valid_key}":
                message = (
                    "You didn't provide an API key." if not given
                    else "Incorrect API key provided. You can find your API key at "
                    "https://platform.openai.com/account/api-keys."
                )
                return _json(401, openai_error(message, "invalid_request_error",
                                               "invalid_api_key" if given else None))
        return None

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        early = await self._prologue(request)
        if isinstance(early, web.StreamResponse):
            return early
        if isinstance(early, _Fault):
            return await _cut_body(request, {"object": "list", "data": []}, early.after_chars)
        data = [_model_object(model) for model in sorted(self.models)]
        return _json(200, {"object": "list", "data": data})

    async def _retrieve_model(self, request: web.Request) -> web.StreamResponse:
        early = await self._prologue(request)
        if isinstance(early, web.StreamResponse):
            return early
        model = request.match_info["model"]
        if isinstance(early, _Fault):
            return await _cut_body(request, _model_object(model), early.after_chars)
        if not self._known(model):
            return _model_not_found(model)
        return _json(200, _model_object(model))

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.requests.append(body if isinstance(body, dict) else {"_raw": body})
        self.request_headers.append({k.lower(): v for k, v in request.headers.items()})

        early = await self._prologue(request)
        if isinstance(early, web.StreamResponse):
            return early
        if problem := self._invalid(body):
            return problem
        scripted = self._next_reply(body)
        reply, finish_reason = self._apply_max_tokens(body, scripted)
        completion_id = f"chatcmpl-standin{next(self._ids)}"
        usage = _usage(body["messages"], reply)
        model = SNAPSHOTS.get(body["model"], body["model"])
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            cut_after = early.after_chars if isinstance(early, _Fault) else None
            return await self._stream(
                request, model=model, completion_id=completion_id, reply=reply,
                finish_reason=finish_reason, usage=usage if include_usage else None,
                cut_after=cut_after, refusal=scripted.refusal,
            )
        content, refusal = (None, reply) if scripted.refusal else (reply, None)
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal,
                            "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": "fp_standin",
        }
        if isinstance(early, _Fault):
            return await _cut_body(request, completion, early.after_chars)
        return _json(200, completion, {"x-request-id": f"req_{completion_id}"})

    def _invalid(self, body: Any) -> web.Response | None:
        """OpenAI's own request checks, as 400 (or 404 for an unknown model)."""
        def bad(message: str, param: str | None = None) -> web.Response:
            return _json(400, openai_error(message, "invalid_request_error", None, param))

        if not isinstance(body, dict) or "_raw" in body:
            return bad("We could not parse the JSON body of your request.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return bad("you must provide a model parameter", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return bad(f"{messages!r} is too short - 'messages'", "messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in _ROLES:
                return bad(f"Invalid value for 'messages[{index}].role'.",
                           f"messages[{index}].role")
            content = message.get("content")
            if message["role"] != "assistant" and not isinstance(content, str | list):
                return bad(f"Missing required parameter: 'messages[{index}].content'.",
                           f"messages[{index}].content")
        if body.get("stream_options") is not None and not body.get("stream"):
            return bad("The 'stream_options' parameter is only allowed when 'stream' is "
                       "enabled.", "stream_options")
        if not self._known(body["model"]):
            return _model_not_found(body["model"])
        if self.max_tokens_only and "max_completion_tokens" in body:
            return bad("Unrecognized request argument supplied: max_completion_tokens")
        if problem := content_problem(body, vision=body["model"] not in self.text_only_models):
            return _json(400, problem)
        if is_reasoning_model(body["model"]):
            return _reasoning_model_problem(body)
        return None

    def _known(self, model: str) -> bool:
        return model in self.models or any(
            SNAPSHOTS.get(alias) == model for alias in self.models
        )

    def _next_reply(self, body: dict[str, Any]) -> _Reply:
        if self._replies:
            return self._replies.popleft()
        if self._reply_fn is not None:
            return _Reply(self._reply_fn(body))
        users = [m for m in body["messages"] if m.get("role") == "user"]
        return _Reply(f"echo: {_text_of(users[-1].get('content')) if users else ''}")

    @staticmethod
    def _apply_max_tokens(body: dict[str, Any], reply: _Reply) -> tuple[str, str]:
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and estimate_tokens(reply.text) > limit:
            return reply.text[: limit * 4], "length"
        return reply.text, reply.finish_reason

    async def _stream(
        self,
        request: web.Request,
        *,
        model: str,
        completion_id: str,
        reply: str,
        finish_reason: str,
        usage: dict[str, Any] | None,
        cut_after: int | None,
        refusal: bool = False,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": f"req_{completion_id}",
        })
        await response.prepare(request)
        created = int(time.time())

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            chunk: dict[str, Any] = {
                "id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "service_tier": "default", "system_fingerprint": "fp_standin",
                "choices": choices,
            }
            if usage is not None:
                chunk["usage"] = None
            chunk.update(extra)
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            if self.chunk_delay > 0:
                await asyncio.sleep(self.chunk_delay)

        def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

        await send(choice({"role": "assistant", "content": "", "refusal": None}))
        text = reply if cut_after is None else reply[:cut_after]
        size = max(1, self.chunk_size)
        field = "refusal" if refusal else "content"
        for start in range(0, len(text), size):
            await send(choice({field: text[start:start + size]}))
        if cut_after is not None:
            # Close (FIN) after what was written, with no terminating chunk and no [DONE].
            if request.transport is not None:
                request.transport.close()
            await _wait_for_disconnect()
        await send(choice({}, finish_reason))
        if usage is not None:
            await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @staticmethod
    def _error_response(
        status: int, body: Any, headers: dict[str, str] | None
    ) -> web.Response:
        if body is None:
            message, type_, code = _DEFAULT_ERRORS.get(
                status, (f"HTTP {status} from the stand-in.", "server_error", None)
            )
            body = openai_error(message, type_, code)
        return _json(status, body, headers)


def _reasoning_model_problem(body: dict[str, Any]) -> web.Response | None:
    """What OpenAI answers a reasoning model asked for ``max_tokens`` or a temperature."""
    if "max_tokens" in body:
        return _json(400, openai_error(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "invalid_request_error", "unsupported_parameter", "max_tokens",
        ))
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return _json(400, openai_error(
            f"Unsupported value: 'temperature' does not support {json.dumps(temperature)} "
            "with this model. Only the default (1) value is supported.",
            "invalid_request_error", "unsupported_value", "temperature",
        ))
    return None


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system"}


def _model_not_found(model: str) -> web.Response:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return _json(404, openai_error(message, "invalid_request_error", "model_not_found"))


def _usage(messages: list[dict[str, Any]], reply: str) -> dict[str, Any]:
    prompt = sum(estimate_tokens(_text_of(m.get("content"))) + 3 for m in messages) + 3
    completion = estimate_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


async def _cut_body(request: web.Request, body: Any, after_bytes: int) -> web.StreamResponse:
    """Promise the whole JSON body (Content-Length), send ``after_bytes`` of it, then close."""
    data = json.dumps(body).encode()
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(data)
    await response.prepare(request)
    await response.write(data[:after_bytes])
    if request.transport is not None:
        request.transport.close()
    await _wait_for_disconnect()
    return response  # not reached: the disconnect cancels this handler


async def _wait_for_disconnect() -> None:
    """Wait until the client disconnects: aiohttp then cancels this handler."""
    await asyncio.get_running_loop().create_future()
