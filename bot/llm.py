"""Talking to the model: turns in, text out. Knows nothing of Discord.

The OpenAI SDK already retries 429/5xx with backoff and enforces the timeout, so this module
only shapes the request and turns the SDK's error classes into one polite sentence a Discord
user can act on. Streaming and non-streaming share one entry point so the chat cog does not
care which the operator chose (some OpenAI-compatible servers cannot stream).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import openai

from bot.conversation import Usage
from bot.memory import Turn
from bot.settings import Settings

log = logging.getLogger(__name__)

OnText = Callable[[str], Awaitable[None]]


class FailureKind(enum.StrEnum):
    QUOTA = "quota"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    SERVER_ERROR = "server_error"
    REJECTED = "rejected"
    MISCONFIGURED = "misconfigured"
    EMPTY = "empty"


POLITE = {
    FailureKind.QUOTA: "I've reached my usage limit with the AI service, so I can't answer "
    "right now. Please try again later.",
    FailureKind.RATE_LIMITED: "The AI service is busy right now. Please try again in a minute.",
    FailureKind.TIMEOUT: "The AI service took too long to answer. Please try again in a moment.",
    FailureKind.UNREACHABLE: "I couldn't reach the AI service just now. Please try again in a "
    "moment.",
    FailureKind.SERVER_ERROR: "The AI service had a problem answering. Please try again in a "
    "moment.",
    FailureKind.REJECTED: "The AI service couldn't answer that request. Try rephrasing it, or "
    "use /reset to start a fresh conversation.",
    FailureKind.MISCONFIGURED: "I'm not set up correctly to reach the AI service; a server "
    "admin needs to check my configuration.",
    FailureKind.EMPTY: "The AI service returned an empty answer. Please try asking again.",
}


class ModelError(Exception):
    """A failed model call, carrying what the user should read and what was shown so far."""

    def __init__(self, kind: FailureKind, detail: str, partial_text: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.partial_text = partial_text

    @property
    def user_message(self) -> str:
        return POLITE[self.kind]


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    usage: Usage


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


class ChatModel:
    """The bot's model, configured once from :class:`Settings`."""

    def __init__(self, settings: Settings, client: openai.AsyncOpenAI | None = None) -> None:
        self.model = settings.model
        self.system_prompt = settings.system_prompt
        self.max_tokens = settings.max_tokens
        self.temperature = settings.temperature
        self.stream = settings.stream_replies
        # base_url comes from OPENAI_BASE_URL, read by the SDK itself.
        self.client = client or openai.AsyncOpenAI(
            api_key=settings.openai_api_key,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
        )

    def build_messages(self, turns: Sequence[Turn]) -> list[dict[str, str]]:
        """System prompt, then each turn; user turns say who spoke since channels are shared."""
        messages = [{"role": "system", "content": self.system_prompt}]
        for turn in turns:
            content = f"{turn.author}: {turn.content}" if turn.role == "user" else turn.content
            messages.append({"role": turn.role, "content": content})
        return messages

    async def reply(self, turns: Sequence[Turn], on_text: OnText | None = None) -> Completion:
        """Answer ``turns``; when streaming, ``on_text`` gets the whole text so far on each chunk.

        Raises :class:`ModelError` with the text shown so far when the call fails.
        """
        shown = ""

        async def track(text: str) -> None:
            nonlocal shown
            shown = text
            if on_text is not None:
                await on_text(text)

        try:
            if self.stream and on_text is not None:
                return await self._stream(turns, track)
            return await self._complete(turns)
        except openai.APIError as error:
            kind = classify_error(error)
            log.warning(
                "model call failed: kind=%s error=%s model=%s streamed_chars=%d",
                kind,
                type(error).__name__,
                self.model,
                len(shown),
            )
            raise ModelError(kind, str(error), shown) from error

    async def _complete(self, turns: Sequence[Turn]) -> Completion:
        response = await self.client.chat.completions.create(
            model=self.model,
            messages=self.build_messages(turns),  # type: ignore[arg-type]
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or choice.message.refusal or "") if choice else ""
        if not text.strip():
            raise ModelError(FailureKind.EMPTY, "no content in completion")
        usage = response.usage
        return Completion(
            text=text,
            model=response.model or self.model,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
        )

    async def _stream(self, turns: Sequence[Turn], on_text: OnText) -> Completion:
        text = ""
        model = self.model
        usage = Usage()
        stream = await self.client.chat.completions.create(
            model=self.model,
            messages=self.build_messages(turns),  # type: ignore[arg-type]
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                delta = chunk.choices[0].delta if chunk.choices else None
                piece = (delta.content or delta.refusal or "") if delta else ""
                if piece:
                    text += piece
                    await on_text(text)
        if not text.strip():
            raise ModelError(FailureKind.EMPTY, "stream ended without content")
        return Completion(text=text, model=model, usage=usage)

    async def close(self) -> None:
        await self.client.close()
