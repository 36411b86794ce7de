"""The agent loop: model rounds with tools until the model answers, bounded.

One question gets at most ``max_rounds`` model rounds. In each round but the last the model
may call tools; the calls of one round run concurrently, each under its own time limit, and
their results go back to the model as ``tool`` messages for the next round. The last round
offers no tools, so a model that keeps calling them still has to answer: the person always
gets a reply. A tool that fails or refuses is reported to the model as an error result it
can explain ("you can't see #staff"); the refused text itself never reaches the model.

Tool results live only in this question's transcript: the channel's memory keeps the
question and the answer, as it does for a reply without tools, so the context stays small
and a history rebuilt from Discord after a restart agrees with it.

The loop knows neither Discord nor Greenflash: tools come in through :class:`Tool`, and
every step goes out through :class:`AgentSteps` as it happens (the chat cog logs them).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.conversation.exchange import Completion, ToolCall, Usage, Voice
from bot.conversation.failures import FailureKind, ModelError
from bot.conversation.memory import Turn
from bot.llm import ChatModel, OnText

log = logging.getLogger(__name__)

RESULT_MAX_CHARS = 12_000
"""What one tool result may put in front of the model: enough for 50 Discord messages or a
page's readable text, small enough that four rounds stay well inside a context window."""

OnStatus = Callable[[str], Awaitable[None]]


class ToolRefused(Exception):
    """The tool will not do this for this person: the reason is told to the model."""


class ToolFailed(Exception):
    """The tool could not do it (bad arguments, a service down): told to the model."""


class Tool(Protocol):
    """One tool the model may call. ``run`` raises :class:`ToolRefused` or
    :class:`ToolFailed` with a sentence the model can pass on."""

    @property
    def name(self) -> str: ...

    def schema(self) -> dict[str, Any]: ...

    def status(self, arguments: Mapping[str, Any]) -> str: ...

    async def run(self, arguments: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True, slots=True)
class Observation:
    """What one tool call gave back: its text for the model, or the error told instead."""

    call: ToolCall
    output: str
    error: str | None = None
    refused: bool = False
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class AgentSteps(Protocol):
    """Where each step goes as it happens (analytics), in plain values so the receiver
    needs nothing of this package; called on the event loop, so it must not block."""

    def tool_call(
        self, call_id: str, name: str, arguments: str, model: str, at: datetime
    ) -> None: ...

    def observation(
        self, call_id: str, *, name: str, output: str, error: str | None, refused: bool,
        at: datetime,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class AgentRun:
    """The final answer, with the cost of every round and what the tools were asked."""

    completion: Completion
    rounds: int
    calls: tuple[ToolCall, ...] = ()


def _parse(arguments: str) -> Mapping[str, Any]:
    """The model's JSON arguments, or :class:`ToolFailed` the model can correct."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError as error:
        raise ToolFailed(f"the arguments are not valid JSON ({error.msg})") from error
    if not isinstance(parsed, dict):
        raise ToolFailed("the arguments must be a JSON object")
    return parsed


def _bounded(text: str, limit: int = RESULT_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[… cut: the result was longer]"


def _add(total: Usage, more: Usage) -> Usage:
    return Usage(
        total.prompt_tokens + more.prompt_tokens,
        total.completion_tokens + more.completion_tokens,
    )


class Agent:
    """The tools offered for one question, and how long each may take."""

    def __init__(
        self,
        model: ChatModel,
        tools: Sequence[Tool],
        *,
        max_rounds: int,
        tool_timeout: float,
    ) -> None:
        self.model = model
        self.tools = {tool.name: tool for tool in tools}
        self.max_rounds = max(1, max_rounds)
        self.tool_timeout = tool_timeout

    async def answer(
        self,
        turns: Sequence[Turn],
        *,
        voice: Voice,
        on_text: OnText | None,
        on_status: OnStatus,
        steps: AgentSteps,
    ) -> AgentRun:
        """Run rounds until the model answers without calling a tool.

        Raises :class:`bot.llm.ModelError` as a plain reply would; the usage of every
        round is in the returned completion's ``usage``, so budgets count them all.
        """
        schemas = [tool.schema() for tool in self.tools.values()]
        transcript: list[dict[str, Any]] = []
        usage = Usage()
        calls: list[ToolCall] = []
        for round_index in range(self.max_rounds):
            last = round_index == self.max_rounds - 1
            completion = await self.model.reply(
                turns,
                on_text,
                voice=voice,
                tools=None if last or not schemas else schemas,
                transcript=transcript,
            )
            usage = _add(usage, completion.usage)
            if not completion.tool_calls or last:
                if not completion.text.strip():  # calls where none were offered, no words
                    raise ModelError(FailureKind.EMPTY, "the last round called tools anyway")
                final = replace(completion, usage=usage, tool_calls=())
                return AgentRun(final, round_index + 1, tuple(calls))
            round_calls = completion.tool_calls
            calls.extend(round_calls)
            transcript.append(_assistant_calls(completion))
            now = datetime.now(UTC)
            for call in round_calls:
                steps.tool_call(call.id, call.name, call.arguments, completion.model, now)
            await on_status(self._status(round_calls))
            observations = await asyncio.gather(*(self._run(call) for call in round_calls))
            for seen in observations:
                transcript.append(_tool_message(seen))
                steps.observation(
                    seen.call.id, name=seen.call.name, output=seen.output, error=seen.error,
                    refused=seen.refused, at=seen.at,
                )
        raise AssertionError("unreachable: the last round returns")

    def _status(self, calls: Sequence[ToolCall]) -> str:
        """One short line for what this round does: the first call's, and a count."""
        first = calls[0]
        tool = self.tools.get(first.name)
        try:
            line = tool.status(_parse(first.arguments)) if tool else "🛠️ working"
        except ToolFailed:
            line = "🛠️ working"
        more = len(calls) - 1
        return f"-# {line}" + (f" (+{more} more)" if more else "")

    async def _run(self, call: ToolCall) -> Observation:
        """One call, bounded; every failure becomes an error result for the model."""
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise ToolFailed(f"there is no tool named {call.name!r}")
            arguments = _parse(call.arguments)
            async with asyncio.timeout(self.tool_timeout):
                output = await tool.run(arguments)
        except ToolRefused as refusal:
            return Observation(call, "", error=str(refusal), refused=True)
        except ToolFailed as failure:
            return Observation(call, "", error=str(failure))
        except TimeoutError:
            return Observation(call, "", error=f"the tool took longer than {self.tool_timeout:g}s")
        except Exception as error:  # a tool's bug must not cost the person their answer
            log.exception("tool %s failed: call=%s", call.name, call.id)
            return Observation(call, "", error=f"the tool failed ({type(error).__name__})")
        return Observation(call, _bounded(output))


def _assistant_calls(completion: Completion) -> dict[str, Any]:
    """The assistant message that asked for the calls, as the API wants it repeated."""
    return {
        "role": "assistant",
        "content": completion.text or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in completion.tool_calls
        ],
    }


def _tool_message(observation: Observation) -> dict[str, Any]:
    content = observation.output if observation.error is None else json.dumps(
        {"error": observation.error, "refused": observation.refused}
    )
    return {"role": "tool", "tool_call_id": observation.call.id, "content": content}
