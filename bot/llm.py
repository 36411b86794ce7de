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
from dataclasses import replace
from typing import Any

import httpx2
import openai

from bot.attachments.model_content import message_content, rejects_images
from bot.config.settings import Settings
from bot.conversation.exchange import Completion, Usage, Voice
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


def refuses(error: openai.BadRequestError, parameter: str) -> bool:
    """A 400 about ``parameter``: OpenAI names it in ``param``; older servers only in the
    message ("Unrecognized request argument supplied: max_completion_tokens")."""
    return error.param == parameter or parameter in server_message(error)


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
        self, turns: Sequence[Turn], on_text: OnText | None = None, *, voice: Voice | None = None
    ) -> Completion:
        """Answer ``turns``; when streaming, ``on_text`` gets the whole text so far on each chunk.
        ``voice`` is the channel's model and system prompt (the operator's without one).

        Raises :class:`ModelError` with the text shown so far when the call fails.
        """
        voice = voice or self.default_voice
        shown = ""

        async def track(text: str) -> None:
            nonlocal shown
            shown = text
            if on_text is not None:
                await on_text(text)

        try:
            try:
                return await self._answer(turns, voice, track if on_text is not None else None)
            except openai.BadRequestError as error:
                if not _refused_images(error, turns):
                    raise
                log.warning("the model server refused the images (%s); answering from the "
                            "text: model=%s", server_message(error), voice.model)
            text_only = [replace(turn, images=()) for turn in turns]
            completion = await self._answer(
                text_only, voice, track if on_text is not None else None
            )
            return replace(completion, images_dropped=True)
        except openai.APIError as error:
            kind = classify_error(error)
            log.warning(
                "model call failed: kind=%s error=%s model=%s streamed_chars=%d",
                kind,
                type(error).__name__,
                voice.model,
                len(shown),
            )
            raise ModelError(kind, str(error), shown) from error

    async def _answer(
        self, turns: Sequence[Turn], voice: Voice, on_text: OnText | None
    ) -> Completion:
        if self.stream and on_text is not None:
            return await self._stream(turns, voice, on_text)
        return await self._complete(turns, voice)

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
        try:
            return await self.client.chat.completions.create(
                **self._params(messages, max_tokens, model), **extra
            )
        except openai.BadRequestError as error:
            if not self._adapt(error):
                raise
        return await self.client.chat.completions.create(
            **self._params(messages, max_tokens, model), **extra
        )

    async def _complete(self, turns: Sequence[Turn], voice: Voice) -> Completion:
        response = await self.create(
            self.build_messages(turns, voice.system_prompt),
            max_tokens=self.max_tokens,
            model=voice.model,
        )
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
        content = (message.content or "") if message else ""
        refusal = (message.refusal or "") if message else ""
        text = content or refusal
        if not text.strip():
            raise ModelError(FailureKind.EMPTY, "no content in completion")
        usage = response.usage
        return Completion(
            text=text,
            model=response.model or voice.model,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason=choice.finish_reason if choice else None,
            refused=bool(refusal) and not content,
        )

    async def _stream(self, turns: Sequence[Turn], voice: Voice, on_text: OnText) -> Completion:
        content = ""
        refusal = ""
        model = voice.model
        usage = Usage()
        finish_reason: str | None = None
        stream = await self.create(
            self.build_messages(turns, voice.system_prompt),
            max_tokens=self.max_tokens,
            model=voice.model,
            stream=True,
            stream_options={"include_usage": True},
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
                if delta.content:
                    content += delta.content
                if delta.refusal:
                    refusal += delta.refusal
                if delta.content or delta.refusal:
                    await on_text(content or refusal)
        text = content or refusal
        if not text.strip():
            raise ModelError(FailureKind.EMPTY, "stream ended without content")
        return Completion(
            text=text, model=model, usage=usage, finish_reason=finish_reason,
            refused=bool(refusal) and not content,
        )

    async def close(self) -> None:
        await self.client.close()
