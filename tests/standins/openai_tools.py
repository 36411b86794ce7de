"""Tool calling for the OpenAI stand-in, as the Chat Completions API defines it.

The shapes, from the installed openai-python (3.57) ``openai/types/chat/``:

* A tool offered in ``tools``: ``ChatCompletionFunctionToolParam``
  (``chat_completion_function_tool_param.py``): ``{"type": "function", "function": {"name",
  "description"?, "parameters"?, "strict"?}}``.
* A call the model makes, non-streamed: ``message.tool_calls`` items are
  ``ChatCompletionMessageFunctionToolCall`` (``chat_completion_message_function_tool_call.py``,
  re-exported by ``chat_completion_message_tool_call.py``): ``id``, ``type: "function"``,
  ``function.name`` and ``function.arguments``, a JSON *string*; ``message.content`` is null
  and the choice's ``finish_reason`` is ``"tool_calls"`` (``chat_completion.py``).
* Streamed: ``delta.tool_calls`` items are ``ChoiceDeltaToolCall``
  (``chat_completion_chunk.py``): ``index`` always; ``id``, ``type`` and ``function.name``
  on a call's first chunk (with ``arguments: ""``); later chunks carry only pieces of
  ``function.arguments``. The stand-in interleaves the calls of one round by ``index``
  (every call's first chunk, then one piece of each in turn), which the format allows and
  which a client that assembles calls by ``index`` must handle; the last chunk has
  ``finish_reason: "tool_calls"``.
* The answer to a call: ``ChatCompletionToolMessageParam``
  (``chat_completion_tool_message_param.py``): ``role: "tool"``, ``content``,
  ``tool_call_id``.

:func:`tool_problem` answers malformed requests with the 400 bodies OpenAI sends (type
``invalid_request_error``), each quoted from a reported response:

=================================================  =======================================
a ``tool`` message whose ``tool_call_id`` is not   ``Invalid parameter: messages with role
an id of the ``tool_calls`` of the assistant       'tool' must be a response to a
message it follows                                 preceeding message with 'tool_calls'.``,
                                                   param ``messages.[i].role``, code null
                                                   (miurla/morphic#136, smarter-sh/smarter
                                                   #264)
an assistant message with ``tool_calls`` not       ``An assistant message with 'tool_calls'
followed by a tool message for each id             must be followed by tool messages
                                                   responding to each 'tool_call_id'. The
                                                   following tool_call_ids did not have
                                                   response messages: <ids>``
                                                   (microsoft/promptflow#3130)
a tool name outside ``^[a-zA-Z0-9_-]{1,64}$``      ``Invalid 'tools[i].function.name':
                                                   string does not match pattern. Expected a
                                                   string that matches the pattern
                                                   '^[a-zA-Z0-9_-]+$'.``, code
                                                   ``invalid_value`` (Vortiago/mcp-azure-
                                                   devops#30, mcp-use/mcp-use#90 for
                                                   ``messages[i].tool_calls[j]``); longer
                                                   than 64: ``string too long``, code
                                                   ``string_above_max_length``
a tool without ``type`` / ``function`` / name      ``Missing required parameter:
                                                   'tools[i].type'.`` and the like, code
                                                   ``missing_required_parameter``
a ``type`` other than ``function``                 ``Invalid value: 'x'. Supported values
                                                   are: 'function' and 'custom'.``
``tools: []``                                      ``Invalid 'tools': empty array. ...``,
                                                   code ``empty_array``
``tool_choice`` without ``tools``                  ``Invalid value for 'tool_choice':
                                                   'tool_choice' is only allowed when
                                                   'tools' are specified.``
=================================================  =======================================

A model in ``OpenAIStandIn.no_tools_models`` plays a local OpenAI-compatible server whose
model has no tool support: a request with ``tools`` gets Ollama's answer, 400
``{"error": {"message": "registry.ollama.ai/library/<model> does not support tools",
"type": "api_error", "param": null, "code": null}}`` (louisho5/picobot#6,
FoundationAgents/OpenManus#220).

Not covered: ``custom`` tools (refused as an unsupported type), ``tool_choice`` naming a
tool that is not offered, ``parallel_tool_calls``, ``strict`` schema checks, and the
deprecated ``functions``/``function_call`` parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.standins.openai_content import openai_error
from tests.standins.openai_wire import text_of

MAX_NAME = 64
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

ScriptedCall = Mapping[str, Any]
"""A call to script: ``{"name": str, "arguments": dict | str}`` (a string is sent as is,
so a test can play a model that writes broken JSON)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    @classmethod
    def of(cls, call: ScriptedCall, call_id: str) -> ToolCall:
        arguments = call.get("arguments", {})
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return cls(call_id, str(call["name"]), text)

    def as_message_item(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


def calls_cost_text(calls: Sequence[ToolCall]) -> str:
    """The text a round of calls costs in completion tokens: names and arguments."""
    return "".join(call.name + call.arguments for call in calls)


def tool_call_deltas(
    calls: Sequence[ToolCall], size: int, budget: int | None = None
) -> list[dict[str, Any]]:
    """The ``delta`` of every streamed chunk for ``calls``, interleaved by ``index``.

    ``budget`` (a cut stream) stops after that many characters of arguments in all.
    """
    pieces = [[call.arguments[i:i + size] for i in range(0, len(call.arguments), size)]
              for call in calls]
    deltas: list[dict[str, Any]] = [
        {"tool_calls": [{"index": index, "id": call.id, "type": "function",
                         "function": {"name": call.name, "arguments": ""}}]}
        for index, call in enumerate(calls)
    ]
    left = budget
    for position in range(max((len(p) for p in pieces), default=0)):
        for index, call_pieces in enumerate(pieces):
            if position >= len(call_pieces):
                continue
            piece = call_pieces[position] if left is None else call_pieces[position][:left]
            if not piece:
                return deltas
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            if left is not None:
                left -= len(piece)
    return deltas


def offers_tools(body: Mapping[str, Any]) -> bool:
    """Whether the model may answer this request with tool calls."""
    return bool(body.get("tools")) and body.get("tool_choice") != "none"


def no_tools_problem(model: str) -> dict[str, Any]:
    return openai_error(f"registry.ollama.ai/library/{model} does not support tools",
                        "api_error")


def _bad(message: str, param: str | None, code: str | None = None) -> dict[str, Any]:
    return openai_error(message, "invalid_request_error", code, param)


def _missing(param: str) -> dict[str, Any]:
    return _bad(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _name_problem(name: Any, where: str) -> dict[str, Any] | None:
    if not isinstance(name, str):
        return _missing(where)
    if not name:
        return _bad(f"Invalid '{where}': empty string. Expected a string with minimum length 1, "
                    "but got an empty string instead.", where, "empty_string")
    if len(name) > MAX_NAME:
        return _bad(f"Invalid '{where}': string too long. Expected a string with maximum length "
                    f"{MAX_NAME}, but got a string with length {len(name)} instead.",
                    where, "string_above_max_length")
    if not set(name) <= _NAME_CHARS:
        return _bad(f"Invalid '{where}': string does not match pattern. Expected a string that "
                    "matches the pattern '^[a-zA-Z0-9_-]+$'.", where, "invalid_value")
    return None


def _tools_problem(body: Mapping[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") is not None:
            return _bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                        "'tools' are specified.", "tool_choice")
        return None
    if not isinstance(tools, list) or not tools:
        return _bad("Invalid 'tools': empty array. Expected an array with minimum length 1, "
                    "but got an empty array instead.", "tools", "empty_array")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or "type" not in tool:
            return _missing(f"{where}.type")
        if tool["type"] != "function":
            return _bad(f"Invalid value: '{tool['type']}'. Supported values are: 'function' and "
                        "'custom'.", f"{where}.type", "invalid_value")
        function = tool.get("function")
        if not isinstance(function, dict):
            return _missing(f"{where}.function")
        if problem := _name_problem(function.get("name"), f"{where}.function.name"):
            return problem
    return None


def _calls_of(message: Mapping[str, Any], index: int) -> list[str] | dict[str, Any]:
    """The ids of an assistant message's ``tool_calls``, or the 400 for a malformed one."""
    ids = []
    for position, call in enumerate(message.get("tool_calls") or []):
        where = f"messages[{index}].tool_calls[{position}]"
        if not isinstance(call, dict) or not isinstance(call.get("id"), str):
            return _missing(f"{where}.id")
        function = call.get("function")
        if not isinstance(function, dict):
            return _missing(f"{where}.function")
        if problem := _name_problem(function.get("name"), f"{where}.function.name"):
            return problem
        if not isinstance(function.get("arguments"), str):
            return _missing(f"{where}.function.arguments")
        ids.append(call["id"])
    return ids


def _unanswered(ids: list[str], index: int) -> dict[str, Any]:
    return _bad("An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(ids)}", f"messages.[{index}].role")


def _sequence_problem(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Every tool message answers a call of the assistant message before it, and every call
    of an assistant message is answered before the next message of another role."""
    offered: set[str] = set()
    pending: list[str] = []
    asked_at = 0
    for index, message in enumerate(messages):
        if message.get("role") == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                return _missing(f"messages[{index}].tool_call_id")
            if call_id not in offered:
                return _bad("Invalid parameter: messages with role 'tool' must be a response to "
                            "a preceeding message with 'tool_calls'.", f"messages.[{index}].role")
            pending = [waiting for waiting in pending if waiting != call_id]
            continue
        if pending:
            return _unanswered(pending, asked_at)
        offered, asked_at = set(), index
        if message.get("role") == "assistant":
            ids = _calls_of(message, index)
            if isinstance(ids, dict):
                return ids
            offered, pending = set(ids), ids
    return _unanswered(pending, asked_at) if pending else None


def tool_problem(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """OpenAI's 400 body for the first tool-calling mistake in ``body``, or None."""
    return _tools_problem(body) or _sequence_problem(body["messages"])


def tool_results(body: dict[str, Any]) -> dict[str, str]:
    """The ``tool`` messages of a request: call id → the text answering it."""
    return {m["tool_call_id"]: text_of(m.get("content")) for m in body.get("messages") or []
            if isinstance(m, dict) and m.get("role") == "tool" and "tool_call_id" in m}
