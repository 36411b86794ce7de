"""The OpenAI stand-in's plain parts: model snapshots, the first request checks, error
bodies, model objects, token usage, the event stream, and the two ways a response can end
early (a cut body, a client that never gets an answer).

Kept apart from :mod:`tests.standins.openai_server` so the server module holds the
endpoints and the scripting, and stays small enough to read.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from aiohttp import web

from tests.standins.openai_content import openai_error

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}

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


DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
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


def estimate_tokens(text: str) -> int:
    """The stand-in's token count: about four characters per token."""
    return math.ceil(len(text) / 4)


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def calls_text(tool_calls: Any) -> str:
    """What a message's ``tool_calls`` cost in tokens: each call's name and arguments."""
    if not isinstance(tool_calls, list):
        return ""
    functions = (call.get("function") for call in tool_calls if isinstance(call, dict))
    return "".join(
        f"{function.get('name', '')}{function.get('arguments', '')}"
        for function in functions if isinstance(function, dict)
    )


def usage(body: dict[str, Any], completion_text: str) -> dict[str, Any]:
    """Token usage: every message's text and tool calls (three tokens of framing each), the
    tool definitions, and the reply's text or calls."""
    messages = body["messages"]
    prompt = sum(
        estimate_tokens(text_of(m.get("content")) + calls_text(m.get("tool_calls"))) + 3
        for m in messages
    ) + 3
    if body.get("tools"):
        prompt += estimate_tokens(json.dumps(body["tools"]))
    completion = estimate_tokens(completion_text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def error_response(status: int, body: Any, headers: dict[str, str] | None) -> web.Response:
    """A queued fault's answer: ``body`` as given, or OpenAI's usual body for ``status``."""
    if body is None:
        message, type_, code = DEFAULT_ERRORS.get(
            status, (f"HTTP {status} from the stand-in.", "server_error", None)
        )
        body = openai_error(message, type_, code)
    return json_response(status, body, headers)


def reasoning_model_problem(body: dict[str, Any]) -> web.Response | None:
    """What OpenAI answers a reasoning model asked for ``max_tokens`` or a temperature."""
    if "max_tokens" in body:
        return json_response(400, openai_error(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "invalid_request_error", "unsupported_parameter", "max_tokens",
        ))
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return json_response(400, openai_error(
            f"Unsupported value: 'temperature' does not support {json.dumps(temperature)} "
            "with this model. Only the default (1) value is supported.",
            "invalid_request_error", "unsupported_value", "temperature",
        ))
    return None


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system"}


def model_not_found(model: str) -> web.Response:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return json_response(404, openai_error(message, "invalid_request_error", "model_not_found"))


async def cut_body(request: web.Request, body: Any, after_bytes: int) -> web.StreamResponse:
    """Promise the whole JSON body (Content-Length), send ``after_bytes`` of it, then close."""
    data = json.dumps(body).encode()
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(data)
    await response.prepare(request)
    await response.write(data[:after_bytes])
    if request.transport is not None:
        request.transport.close()
    await wait_for_disconnect()
    return response  # not reached: the disconnect cancels this handler


async def wait_for_disconnect() -> None:
    """Wait until the client disconnects: aiohttp then cancels this handler."""
    await asyncio.get_running_loop().create_future()


def request_problem(body: Any) -> dict[str, Any] | None:
    """OpenAI's 400 body for a request it cannot read: no JSON, no model, no messages, an
    unknown role, a missing content, ``stream_options`` without ``stream``."""
    def bad(message: str, param: str | None = None) -> dict[str, Any]:
        return openai_error(message, "invalid_request_error", None, param)

    if not isinstance(body, dict) or "_raw" in body:
        return bad("We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return bad("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad(f"{messages!r} is too short - 'messages'", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return bad(f"Invalid value for 'messages[{index}].role'.",
                       f"messages[{index}].role")
        content = message.get("content")
        if message["role"] != "assistant" and not isinstance(content, str | list):
            return bad(f"Missing required parameter: 'messages[{index}].content'.",
                       f"messages[{index}].content")
    if body.get("stream_options") is not None and not body.get("stream"):
        return bad("The 'stream_options' parameter is only allowed when 'stream' is "
                   "enabled.", "stream_options")
    return None


async def write_stream(
    request: web.Request,
    *,
    model: str,
    completion_id: str,
    deltas: list[dict[str, Any]],
    finish_reason: str,
    usage: dict[str, Any] | None,
    cut: bool,
    chunk_delay: float,
) -> web.StreamResponse:
    """Server-sent events: one chunk per delta, the finish chunk, the usage chunk when
    asked, ``[DONE]``; a cut closes the connection after the deltas instead."""
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
        if chunk_delay > 0:
            await asyncio.sleep(chunk_delay)

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    for delta in deltas:
        await send(choice(delta))
    if cut:
        # Close (FIN) after what was written, with no terminating chunk and no [DONE].
        if request.transport is not None:
            request.transport.close()
        await wait_for_disconnect()
    await send(choice({}, finish_reason))
    if usage is not None:
        await send([], usage=usage)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response
