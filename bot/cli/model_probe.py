"""``doctor``'s model check: one small completion with the bot's own request shape.

A model can be listed for a key and still refuse what the bot sends (a temperature a
reasoning model rejects, ``max_tokens`` where ``max_completion_tokens`` is required), which
would otherwise first show as a polite failure under someone's question. The probe sends
what :class:`bot.llm.ChatModel` sends and names the setting to change when it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import openai

from bot.config.settings import Settings
from bot.llm import ChatModel, classify_error, refuses, refuses_tools, server_message

PROBE_TOKENS = 32
"""Tokens the probe allows: enough for a reply from a chat model; a reasoning model may
spend them all thinking, which still proves the request shape was accepted."""

_SETTING_FOR = {
    "tools": "TOOLS (off answers without looking things up)",
    "temperature": "OPENAI_TEMPERATURE",
    "reasoning_effort": "OPENAI_REASONING_EFFORT",
    "max_tokens": "OPENAI_TOKEN_PARAMETER",
    "max_completion_tokens": "OPENAI_TOKEN_PARAMETER",
}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the doctor reports: did the model accept the bot's request shape."""

    ok: bool
    detail: str
    refused_parameter: str | None = None

    @property
    def fix(self) -> str:
        if self.ok:
            return ""
        if self.refused_parameter is None:
            return "check OPENAI_MODEL, OPENAI_BASE_URL and OPENAI_EXTRA_BODY"
        setting = _SETTING_FOR.get(self.refused_parameter, "OPENAI_EXTRA_BODY")
        return f"change or unset {setting}"


async def probe(model: ChatModel) -> ProbeResult:
    """An answer cut by the small token limit, even an empty one (a reasoning model may
    spend every token thinking), still proves the parameters were accepted."""
    messages = [
        {"role": "system", "content": model.system_prompt},
        {"role": "user", "content": "Reply with the word OK."},
    ]
    try:
        response = await model.create(messages, max_tokens=PROBE_TOKENS)
    except openai.BadRequestError as error:
        refused = error.param if isinstance(error.param, str) else next(
            (field for field in model.tunable_fields() if refuses(error, field)), None
        )
        named = f"refused {refused!r}: " if refused else "refused the request: "
        return ProbeResult(False, named + server_message(error), refused)
    except openai.APIError as error:
        return ProbeResult(False, f"could not complete: {classify_error(error)} ({error})")
    choice = response.choices[0] if response.choices else None
    finish = choice.finish_reason if choice else None
    if finish not in {"stop", "length"}:
        return ProbeResult(False, f"answered with finish_reason={finish!r}")
    return ProbeResult(
        True,
        f"{response.model or model.model!r} accepts the bot's request "
        f"({model.token_parameter}, finish_reason={finish})",
    )


_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "read_channel",
        "description": "Read recent messages of a channel.",
        "parameters": {"type": "object", "properties": {"channel": {"type": "string"}}},
    },
}


async def probe_tools(model: ChatModel) -> ProbeResult:
    """Whether the server takes ``tools`` (one small request offering one, ``tool_choice``
    none so nothing is run): under ``TOOLS=auto`` a refusal only means answers without
    tools, so it is worth saying before the first question finds out."""
    messages = [{"role": "user", "content": "Reply with the word OK."}]
    try:
        await model.create(
            messages, max_tokens=PROBE_TOKENS, tools=[_PROBE_TOOL], tool_choice="none"
        )
    except openai.BadRequestError as error:
        refused = "refuses tools" if refuses_tools(error) else "refused the request"
        return ProbeResult(False, f"{refused}: {server_message(error)}", "tools")
    except openai.APIError as error:
        return ProbeResult(False, f"could not check tools: {classify_error(error)}")
    if model.tools_refused:  # TOOLS=auto asked again without them, as replies would
        return ProbeResult(False, "refuses tools: questions are answered without looking "
                           "anything up", "tools")
    return ProbeResult(True, "accepts tools: it can look things up for people")


async def probe_model(settings: Settings) -> tuple[ProbeResult, ProbeResult | None]:
    """:func:`probe`, and :func:`probe_tools` unless ``TOOLS=off``, with a model of its own,
    closed afterwards."""
    model = ChatModel(settings)
    try:
        shape = await probe(model)
        return shape, (await probe_tools(model) if shape.ok and model.offers_tools else None)
    finally:
        await model.close()
