"""Talking to the model: turns in, text out. Knows nothing of Discord.

The OpenAI SDK already retries 429/5xx with backoff and enforces the timeout, so this module
only shapes the request and turns the SDK's error classes into a failure kind, whose polite
sentence (:mod:`bot.conversation.failures`) a Discord user can act on. Streaming and
non-streaming share one entry point so the chat cog does not care which the operator chose
(some OpenAI-compatible servers cannot stream).

The request shape fits every current OpenAI model and older OpenAI-compatible servers:

* The token limit is sent as ``max_completion_tokens`` (reasoning models, the gpt-5 family
  and the o-series, reject ``max_tokens`` with a 400 ``unsupported_parameter``). With
  ``OPENAI_TOKEN_PARAMETER=auto`` a 400 that names the parameter as unsupported or
  unrecognised (older compatible servers only know ``max_tokens``) is answered by one retry
  with the other name, which is then kept for the life of the process.
* ``temperature`` and ``reasoning_effort`` are sent only when the operator set them:
  reasoning models refuse any temperature but the default (400 ``unsupported_value``).
* ``OPENAI_EXTRA_BODY`` goes out through the SDK's ``extra_body``, for provider fields the
  SDK does not know.

Timeouts and retries (a generation may take a minute, and a long answer must not be billed
three times): ``OPENAI_TIMEOUT`` bounds each wait for the server's next bytes, which for a
non-streamed answer is the whole generation and for a stream the gap between chunks;
``OPENAI_CONNECT_TIMEOUT`` bounds connecting. The SDK retries (``OPENAI_MAX_RETRIES``) what
was never billed: connection failures, connect timeouts, 429 and 5xx. A read timeout means
the request reached the server, which may still be generating (and billing) the answer, so
:class:`_ReadTimeoutIsFinal` reports it at once instead of letting the SDK send it again; a
stream cut mid-way is never replayed by the SDK either (openai >= 3.14 README, "Handling
errors").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx2
import openai

from bot.attachments.model_content import message_content, rejects_images
from bot.config.settings import Settings
from bot.conversation.exchange import Completion, ToolCall, Usage, Voice
from bot.conversation.failures import FailureKind, ModelError
from bot.conversation.memory import Turn

log = logging.getLogger(__name__)

OnText = Callable[[str], Awaitable[None]]


def classify_error(error: Exception) -> FailureKind:
    """Map the SDK's error classes to a failure kind; a cut stream is a connection error."""
    match error:
        case openai.RateLimitError():
            body = error.body if isinstance(error.body, dict) else {}
            quota = "insufficient_quota" in (str(body.get("code")), str(body.get("type")))
            return FailureKind.QUOTA if quota else FailureKind.RATE_LIMITED
        case openai.APITimeoutError():
            return FailureKind.TIMEOUT
        case openai.APIConnectionError():
            return FailureKind.UNREACHABLE
        case openai.AuthenticationError() | openai.PermissionDeniedError() | openai.NotFoundError():
            return FailureKind.MISCONFIGURED
        case openai.BadRequestError() | openai.UnprocessableEntityError():
            return FailureKind.REJECTED
        case _:
            return FailureKind.SERVER_ERROR


class _ReadTimeoutIsFinal(httpx2.AsyncBaseTransport):
    """Reports a read timeout as :class:`openai.APITimeoutError` so the SDK does not retry it.

    The SDK retries every timeout (``openai/_base_client.py``, ``except timeout_exceptions()``)
    but propagates an ``OpenAIError`` raised by the transport as it is, without retrying. A
    read timeout happens after the request was sent, when the server may be generating the
    answer; sending it again would pay for it again. Connect timeouts stay retryable.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except httpx2.ReadTimeout as error:
            raise openai.APITimeoutError(request=request) from error

    async def aclose(self) -> None:
        await self._inner.aclose()


def server_message(error: openai.APIStatusError) -> str:
    """The ``message`` of the server's error object, without the SDK's status prefix."""
    body = error.body
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else error.message


def _refused_images(error: openai.BadRequestError, turns: Sequence[Turn]) -> bool:
    """A 400 that refuses the images of a request that had some: worth one retry without."""
    return any(turn.images for turn in turns) and rejects_images(error.body)


def refuses_tools(error: openai.BadRequestError) -> bool:
    """A 400 that says the server or model takes no tools: OpenAI names ``tools`` in
    ``param``; compatible servers say it in words (Ollama: "... does not support tools",
    vLLM: "\"auto\" tool choice requires --enable-auto-tool-choice ...")."""
    words = server_message(error).lower()
    return error.param in {"tools", "tool_choice"} or "tool" in words


def refuses(error: openai.BadRequestError, parameter: str) -> bool:
    """A 400 about ``parameter``: OpenAI names it in ``param``; older servers only in the
    message ("Unrecognized request argument supplied: max_completion_tokens")."""
    return error.param == parameter or parameter in server_message(error)


@dataclass(frozen=True, slots=True)
class _Request:
    turns: Sequence[Turn]
    voice: Voice
    tools: Sequence[dict[str, Any]] | None
    transcript: list[dict[str, Any]]


class _StreamedCalls:
    """Tool calls put together from a stream's ``delta.tool_calls`` pieces (OpenAI's
    ``ChoiceDeltaToolCall``: the first piece of each call, by ``index``, carries its id and
    function name, the later ones more of its JSON arguments)."""

    MAX_CALLS = 16
    MAX_ARGUMENT_CHARS = 64_000

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def add(self, pieces: Sequence[Any]) -> None:
        for piece in pieces:
            call = self._calls.get(piece.index)
            if call is None:
                if len(self._calls) >= self.MAX_CALLS:
                    continue
                call = self._calls.setdefault(piece.index, ["", "", ""])
            if piece.id:
                call[0] = piece.id
            function = piece.function
            if function is not None:
                call[1] += function.name or ""
                if len(call[2]) < self.MAX_ARGUMENT_CHARS:
                    call[2] += function.arguments or ""

    def finished(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(call_id, name, arguments)
            for _, (call_id, name, arguments) in sorted(self._calls.items())
            if call_id and name
        )


class ChatModel:
    """The bot's model, configured once from :class:`Settings`."""

    def __init__(self, settings: Settings, client: openai.AsyncOpenAI | None = None) -> None:
        self.model = settings.model
        self.system_prompt = settings.system_prompt
        self.max_tokens = settings.max_tokens
        self.temperature = settings.temperature
        self.reasoning_effort = settings.reasoning_effort
        self.extra_body = settings.extra_body
        self.stream = settings.stream_replies
        self.tools = settings.tools
        self.tools_refused = False
        """Set once a server refused ``tools`` under ``TOOLS=auto``: asked without them since."""
        self.adapt_token_parameter = settings.token_parameter == "auto"
        self.token_parameter = (
            "max_completion_tokens" if self.adapt_token_parameter else settings.token_parameter
        )
        timeout = httpx2.Timeout(settings.openai_timeout, connect=settings.openai_connect_timeout)
        self.client = client or openai.AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=timeout,
            max_retries=settings.openai_max_retries,
            http_client=openai.DefaultAsyncHttpxClient(
                timeout=timeout, transport=_ReadTimeoutIsFinal(httpx2.AsyncHTTPTransport())
            ),
        )

    @property
    def offers_tools(self) -> bool:
        """Whether questions may be answered with tools: not ``TOOLS=off``, and not a server
        that refused them under ``auto``."""
        return self.tools != "off" and not self.tools_refused

    @property
    def default_voice(self) -> Voice:
        """The operator's model and ``SYSTEM_PROMPT``: what answers without a stored setting."""
        return Voice(self.model, self.system_prompt)

    def build_messages(
        self, turns: Sequence[Turn], system_prompt: str | None = None
    ) -> list[dict[str, Any]]:
        """System prompt, then each turn; user turns say who spoke since channels are shared,
        and carry their images (only the question being answered has any) as image parts."""
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt or self.system_prompt}
        ]
        for turn in turns:
            content = (
                message_content(f"{turn.author}: {turn.content}", turn.images)
                if turn.role == "user" else turn.content
            )
            messages.append({"role": turn.role, "content": content})
        return messages

    async def reply(
        self,
        turns: Sequence[Turn],
        on_text: OnText | None = None,
        *,
        voice: Voice | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        transcript: Sequence[dict[str, Any]] = (),
    ) -> Completion:
        """Answer ``turns``; when streaming, ``on_text`` gets the whole text so far on each chunk.
        ``voice`` is the channel's model and system prompt (the operator's without one);
        ``tools`` the functions offered this round, ``transcript`` this question's earlier
        rounds (assistant tool calls and tool results), sent after the turns.

        Raises :class:`ModelError` with the text shown so far when the call fails.
        """
        request = _Request(turns, voice or self.default_voice, tools or None, [*transcript])
        shown = ""

        async def track(text: str) -> None:
            nonlocal shown
            shown = text
            if on_text is not None:
                await on_text(text)

        try:
            try:
                return await self._answer(request, track if on_text is not None else None)
            except openai.BadRequestError as error:
                if not _refused_images(error, turns):
                    raise
                log.warning("the model server refused the images (%s); answering from the "
                            "text: model=%s", server_message(error), request.voice.model)
            text_only = replace(request, turns=[replace(turn, images=()) for turn in turns])
            completion = await self._answer(
                text_only, track if on_text is not None else None
            )
            return replace(completion, images_dropped=True)
        except openai.APIError as error:
            kind = classify_error(error)
            log.warning(
                "model call failed: kind=%s error=%s model=%s streamed_chars=%d",
                kind,
                type(error).__name__,
                request.voice.model,
                len(shown),
            )
            raise ModelError(kind, str(error), shown) from error

    async def _answer(self, request: _Request, on_text: OnText | None) -> Completion:
        if self.stream and on_text is not None:
            return await self._stream(request, on_text)
        return await self._complete(request)

    def _messages(self, request: _Request) -> list[dict[str, Any]]:
        return [
            *self.build_messages(request.turns, request.voice.system_prompt),
            *request.transcript,
        ]

    def _tool_fields(self, request: _Request) -> dict[str, Any]:
        return {"tools": list(request.tools)} if request.tools and self.offers_tools else {}

    def _params(
        self, messages: list[dict[str, Any]], max_tokens: int, model: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": model or self.model,
            "messages": messages,
            self.token_parameter: max_tokens,
        }
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.reasoning_effort is not None:
            params["reasoning_effort"] = self.reasoning_effort
        if self.extra_body:
            params["extra_body"] = self.extra_body
        return params

    def tunable_fields(self) -> list[str]:
        """The request fields an operator's settings put there, as a 400 may name them."""
        fixed = {"model", "messages", "extra_body"}
        return [name for name in self._params([], 1) if name not in fixed] + [*self.extra_body]

    def _adapt(self, error: openai.BadRequestError) -> bool:
        """Switch the token parameter's name when the server refused the one sent."""
        if not self.adapt_token_parameter or not refuses(error, self.token_parameter):
            return False
        other = "max_tokens" if self.token_parameter == "max_completion_tokens" else (
            "max_completion_tokens"
        )
        log.warning(
            "the model server refused %r; sending %r from now on (set OPENAI_TOKEN_PARAMETER "
            "to skip this check)", self.token_parameter, other,
        )
        self.token_parameter = other
        return True

    async def create(
        self,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        model: str | None = None,
        **extra: Any,
    ) -> Any:
        """``chat.completions.create`` with the bot's parameters, adapting the token
        parameter's name once when the server refuses it; the doctor's probe
        (:mod:`bot.cli.model_probe`) sends through it too, so it checks what replies send."""
        for _ in range(3):  # at most one switch of each kind, then the answer or the error
            try:
                return await self.client.chat.completions.create(
                    **self._params(messages, max_tokens, model), **extra
                )
            except openai.BadRequestError as error:
                if not (self._adapt(error) or self._drop_tools(error, extra)):
                    raise
        return await self.client.chat.completions.create(
            **self._params(messages, max_tokens, model), **extra
        )

    def _drop_tools(self, error: openai.BadRequestError, extra: dict[str, Any]) -> bool:
        """Under ``TOOLS=auto``, a server that refuses ``tools`` is asked again without them,
        and never offered them again in this process (like the token parameter's switch)."""
        if self.tools != "auto" or "tools" not in extra or not refuses_tools(error):
            return False
        log.warning(
            "the model server refused tools (%s); answering without them from now on (set "
            "TOOLS=off to skip this check)", server_message(error),
        )
        self.tools_refused = True
        extra.pop("tools")
        extra.pop("tool_choice", None)
        return True

    async def _complete(self, request: _Request) -> Completion:
        voice = request.voice
        response = await self.create(
            self._messages(request),
            max_tokens=self.max_tokens,
            model=voice.model,
            **self._tool_fields(request),
        )
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
        content = (message.content or "") if message else ""
        refusal = (message.refusal or "") if message else ""
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments or "")
            for call in (message.tool_calls or []) if message and call.type == "function"
        ) if message else ()
        text = content or refusal
        if not text.strip() and not calls:
            raise ModelError(FailureKind.EMPTY, "no content in completion")
        usage = response.usage
        return Completion(
            text=text,
            model=response.model or voice.model,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason=choice.finish_reason if choice else None,
            refused=bool(refusal) and not content,
            tool_calls=calls,
        )

    async def _stream(self, request: _Request, on_text: OnText) -> Completion:
        content = ""
        refusal = ""
        model = request.voice.model
        usage = Usage()
        finish_reason: str | None = None
        calls = _StreamedCalls()
        stream = await self.create(
            self._messages(request),
            max_tokens=self.max_tokens,
            model=request.voice.model,
            stream=True,
            stream_options={"include_usage": True},
            **self._tool_fields(request),
        )
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                choice = chunk.choices[0] if chunk.choices else None
                if choice is None:
                    continue
                finish_reason = choice.finish_reason or finish_reason
                delta = choice.delta
                calls.add(delta.tool_calls or ())
                if delta.content:
                    content += delta.content
                if delta.refusal:
                    refusal += delta.refusal
                if delta.content or delta.refusal:
                    await on_text(content or refusal)
        text = content or refusal
        tool_calls = calls.finished()
        if not text.strip() and not tool_calls:
            raise ModelError(FailureKind.EMPTY, "stream ended without content")
        return Completion(
            text=text, model=model, usage=usage, finish_reason=finish_reason,
            refused=bool(refusal) and not content, tool_calls=tool_calls,
        )

    async def close(self) -> None:
        await self.client.close()
