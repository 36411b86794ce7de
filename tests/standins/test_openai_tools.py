"""The OpenAI stand-in plays tool calls as the real SDK expects them, and refuses broken
call/answer sequences with OpenAI's 400s, streamed and not."""

from __future__ import annotations

import json
import math
from typing import Any

import openai
import pytest

from tests.standins.openai_server import OpenAIStandIn, tool_results
from tests.standins.test_openai import connected

USER = {"role": "user", "content": "what's new?"}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "web_search", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                   "required": ["query"]},
}}
READ_TOOL = {"type": "function", "function": {"name": "read_page", "parameters": {
    "type": "object", "properties": {"url": {"type": "string"}}}}}
TOOLS: list[Any] = [SEARCH_TOOL, READ_TOOL]
CALLS = [
    {"name": "web_search", "arguments": {"query": "discord.py 2.7 release notes"}},
    {"name": "read_page", "arguments": {"url": "https://example.org/a/long/path"}},
]


def asked(call_ids: list[str]) -> dict[str, Any]:
    """The assistant message that made these calls, as a client sends it back."""
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": "web_search", "arguments": '{"query": "q"}'}}
        for call_id in call_ids
    ]}


def answer(call_id: str, text: str = "result") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


async def test_a_round_of_calls_comes_back_as_message_tool_calls(
    openai_standin: OpenAIStandIn,
) -> None:
    ids = openai_standin.script_tool_calls(CALLS)
    async with connected(openai_standin) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=TOOLS
        )
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [call.id for call in calls] == ids
    assert all(call_id.startswith("call_") for call_id in ids)
    assert [(call.type, call.function.name, json.loads(call.function.arguments))
            for call in calls if call.type == "function"] == [
        ("function", c["name"], c["arguments"]) for c in CALLS
    ]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == math.ceil(
        sum(len(c["name"] + json.dumps(c["arguments"])) for c in CALLS) / 4
    )


async def test_streamed_calls_are_interleaved_by_index_and_split_across_chunks(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.chunk_size = 7
    ids = openai_standin.script_tool_calls(CALLS)
    async with connected(openai_standin) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=TOOLS, stream=True
        )
        chunks = [chunk async for chunk in stream]

    deltas = [delta for chunk in chunks for choice in chunk.choices
              for delta in choice.delta.tool_calls or []]
    heads = [d for d in deltas if d.id is not None]
    assert [(d.index, d.id, d.type, d.function and d.function.name) for d in heads] == [
        (0, ids[0], "function", "web_search"), (1, ids[1], "function", "read_page")
    ]
    pieces = [d for d in deltas if d.id is None]
    assert all(d.type is None and d.function and d.function.name is None for d in pieces)
    order = [d.index for d in pieces]
    assert order[:4] == [0, 1, 0, 1]
    for index, call in enumerate(CALLS):
        mine = [d.function.arguments or "" for d in pieces if d.index == index and d.function]
        assert len(mine) == math.ceil(len(json.dumps(call["arguments"])) / 7)
        assert json.loads("".join(mine)) == call["arguments"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


async def test_the_sdk_stream_helper_assembles_the_same_calls(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.chunk_size = 3
    ids = openai_standin.script_tool_calls(CALLS)
    async with connected(openai_standin) as client, client.chat.completions.stream(
        model="gpt-4o-mini", messages=[USER], tools=TOOLS
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(call.id, call.function.name, json.loads(call.function.arguments))
            for call in calls] == [
        (i, c["name"], c["arguments"]) for i, c in zip(ids, CALLS, strict=True)
    ]
    assert final.choices[0].finish_reason == "tool_calls"


async def test_reply_with_answers_from_the_tool_results_it_receives(
    openai_standin: OpenAIStandIn,
) -> None:
    def model(body: dict[str, Any]) -> str | list[dict[str, Any]]:
        results = tool_results(body)
        if not results:
            return [{"name": "web_search", "arguments": {"query": "release"}}]
        return "I found: " + "; ".join(results.values())

    openai_standin.reply_with(model)
    async with connected(openai_standin) as client:
        first = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=TOOLS
        )
        [call] = first.choices[0].message.tool_calls or []
        history: list[Any] = [USER, asked([call.id]), answer(call.id, "2.7 is out")]
        second = await client.chat.completions.create(
            model="gpt-4o-mini", messages=history, tools=TOOLS
        )
    assert second.choices[0].message.content == "I found: 2.7 is out"
    assert second.choices[0].finish_reason == "stop"


async def test_calls_are_never_played_to_a_request_without_tools(
    openai_standin: OpenAIStandIn,
) -> None:
    [call_id] = openai_standin.script_tool_calls(CALLS[:1])
    async with connected(openai_standin) as client:
        plain = await client.chat.completions.create(model="gpt-4o-mini", messages=[USER])
        refused = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=TOOLS, tool_choice="none"
        )
        offered = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=TOOLS
        )
    assert plain.choices[0].message.content == "echo: what's new?"
    assert refused.choices[0].message.tool_calls is None
    assert [c.id for c in offered.choices[0].message.tool_calls or []] == [call_id]


async def test_usage_counts_tool_calls_and_tool_messages(
    openai_standin: OpenAIStandIn,
) -> None:
    async def prompt_tokens(messages: list[Any]) -> int:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=TOOLS
        )
        assert completion.usage is not None
        return completion.usage.prompt_tokens

    async with connected(openai_standin) as client:
        short = await prompt_tokens([USER, asked(["call_1"]), answer("call_1", "x" * 4)])
        long = await prompt_tokens([USER, asked(["call_1"]), answer("call_1", "x" * 404)])
        two_calls = await prompt_tokens(
            [USER, asked(["call_1", "call_2"]), answer("call_1", "x" * 4), answer("call_2", "")]
        )
    assert long - short == 100
    assert two_calls - short == 3 + math.ceil(len('web_search{"query": "q"}') / 4)


async def test_a_cut_stream_of_calls_ends_in_a_connection_error(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.chunk_size = 4
    openai_standin.script_tool_calls(CALLS)
    openai_standin.cut_stream_next(after_chars=10)
    arguments = ""
    async with connected(openai_standin) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=TOOLS, stream=True
        )
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                for delta in chunk.choices[0].delta.tool_calls or []:
                    arguments += delta.function.arguments or "" if delta.function else ""
    assert len(arguments) == 10


PRECEEDING = ("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
              "message with 'tool_calls'.")
UNANSWERED = ("An assistant message with 'tool_calls' must be followed by tool messages "
              "responding to each 'tool_call_id'. The following tool_call_ids did not have "
              "response messages: ")
MISSING = "Missing required parameter: "
NAME_PATTERN = ("Invalid 'tools[0].function.name': string does not match pattern. Expected a "
                "string that matches the pattern '^[a-zA-Z0-9_-]+$'.")


def tool(name: Any = "ok", **fields: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}, **fields}


BAD_REQUESTS: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "tool-answers-no-call": (
        {"messages": [USER, answer("call_1")]}, PRECEEDING, "messages.[1].role"),
    "tool-answers-another-id": (
        {"messages": [USER, asked(["call_1"]), answer("call_2")]}, PRECEEDING,
        "messages.[2].role"),
    "tool-after-a-user-message": (
        {"messages": [USER, asked(["call_1"]), answer("call_1"), USER, answer("call_1")]},
        PRECEEDING, "messages.[4].role"),
    "calls-followed-by-user": (
        {"messages": [USER, asked(["call_1"]), USER]}, UNANSWERED + "call_1",
        "messages.[1].role"),
    "calls-last": ({"messages": [USER, asked(["call_1"])]}, UNANSWERED + "call_1",
                   "messages.[1].role"),
    "one-of-two-answered": (
        {"messages": [USER, asked(["call_1", "call_2"]), answer("call_2"), USER]},
        UNANSWERED + "call_1", "messages.[1].role"),
    "tool-message-without-id": (
        {"messages": [USER, asked(["call_1"]), {"role": "tool", "content": "r"}]},
        MISSING + "'messages[2].tool_call_id'.", "messages[2].tool_call_id"),
    "tool-without-type": ({"tools": [{"function": {"name": "a"}}]},
                          MISSING + "'tools[0].type'.", "tools[0].type"),
    "tool-of-another-type": ({"tools": [tool(type="retrieval")]},
                             "Invalid value: 'retrieval'. Supported values are: 'function' and "
                             "'custom'.", "tools[0].type"),
    "tool-without-function": ({"tools": [{"type": "function"}]},
                              MISSING + "'tools[0].function'.", "tools[0].function"),
    "name-with-a-dot": ({"tools": [tool("web.search")]}, NAME_PATTERN,
                        "tools[0].function.name"),
    "name-too-long": ({"tools": [tool("a" * 65)]},
                      "Invalid 'tools[0].function.name': string too long. Expected a string "
                      "with maximum length 64, but got a string with length 65 instead.",
                      "tools[0].function.name"),
    "no-tools": ({"tools": []}, "Invalid 'tools': empty array. Expected an array with "
                 "minimum length 1, but got an empty array instead.", "tools"),
    "tool-choice-alone": ({"tool_choice": "auto"}, "Invalid value for 'tool_choice': "
                          "'tool_choice' is only allowed when 'tools' are specified.",
                          "tool_choice"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
async def test_broken_tool_requests_get_openais_400(
    openai_standin: OpenAIStandIn, case: str, stream: bool
) -> None:
    options, message, param = BAD_REQUESTS[case]
    options = {"messages": [USER], **options}
    async with connected(openai_standin) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="gpt-4o-mini", stream=stream, **options)
    assert refused.value.status_code == 400
    assert refused.value.body == {
        "message": message, "type": "invalid_request_error", "param": param,
        "code": refused.value.code,
    }
    assert len(openai_standin.requests) == 1


async def test_a_well_formed_name_of_64_characters_is_accepted(
    openai_standin: OpenAIStandIn,
) -> None:
    async with connected(openai_standin) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[USER], tools=[tool("a-Z_9" + "x" * 59)],
            tool_choice="auto",
        )
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_model_without_tool_support_refuses_tools_as_ollama_does(
    openai_standin: OpenAIStandIn, stream: bool
) -> None:
    openai_standin.models.add("gemma3:4b")
    openai_standin.no_tools_models.add("gemma3:4b")
    async with connected(openai_standin) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model="gemma3:4b", messages=[USER], tools=TOOLS, stream=stream
            )
        without = await client.chat.completions.create(model="gemma3:4b", messages=[USER])
    assert refused.value.body == {
        "message": "registry.ollama.ai/library/gemma3:4b does not support tools",
        "type": "api_error", "param": None, "code": None,
    }
    assert without.choices[0].message.content == "echo: what's new?"
