"""The OpenAI stand-in speaks the API closely enough for the real SDK, faults included."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import openai
import pytest

from tests.standins.openai_server import INSUFFICIENT_QUOTA, OpenAIStandIn

MESSAGES: list[Any] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "alice: hello?"},
]


@asynccontextmanager
async def connected(standin: OpenAIStandIn) -> AsyncIterator[openai.AsyncOpenAI]:
    client = client_for(standin)
    try:
        yield client
    finally:
        await client.close()


def client_for(standin: OpenAIStandIn, **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=standin.base_url, api_key="test", **options)


async def test_completion_round_trip_records_the_exact_request(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.script("Hello from the stand-in.")
    client = client_for(openai_standin)
    try:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=50, temperature=0.2
        )
    finally:
        await client.close()

    assert completion.choices[0].message.content == "Hello from the stand-in."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == math.ceil(len("Hello from the stand-in.") / 4)
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    [body] = openai_standin.requests
    assert body["messages"] == MESSAGES
    assert body["max_tokens"] == 50
    assert "stream" not in body
    assert openai_standin.request_headers[0]["authorization"] == "Bearer test"


async def test_stream_round_trip_reassembles_the_reply_with_usage(
    openai_standin: OpenAIStandIn,
) -> None:
    reply = "Streaming works, one small piece at a time."
    openai_standin.script(reply)
    openai_standin.chunk_size = 5
    client = client_for(openai_standin)
    try:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    finally:
        await client.close()

    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks
              if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == reply
    assert len(pieces) == math.ceil(len(reply) / 5)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == math.ceil(len(reply) / 4)
    assert all(c.usage is None for c in chunks[:-1])
    assert openai_standin.requests[0]["stream"] is True
    assert openai_standin.requests[0]["messages"] == MESSAGES


async def test_stream_without_include_usage_sends_no_usage_chunk(
    openai_standin: OpenAIStandIn,
) -> None:
    client = client_for(openai_standin)
    try:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        chunks = [chunk async for chunk in stream]
    finally:
        await client.close()
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


async def test_default_reply_echoes_then_reply_with_computes_it(
    openai_standin: OpenAIStandIn,
) -> None:
    client = client_for(openai_standin)
    try:
        first = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        openai_standin.reply_with(lambda body: f"{len(body['messages'])} messages")
        second = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert first.choices[0].message.content == "echo: alice: hello?"
    assert second.choices[0].message.content == "2 messages"


async def test_max_tokens_cuts_the_reply_with_finish_reason_length(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.script("x" * 100)
    client = client_for(openai_standin)
    try:
        completion = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=5
        )
    finally:
        await client.close()
    assert completion.choices[0].message.content == "x" * 20
    assert completion.choices[0].finish_reason == "length"


async def test_insufficient_quota_429_is_a_rate_limit_error_with_its_code(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.fail_next(429, body=INSUFFICIENT_QUOTA)
    client = client_for(openai_standin)
    try:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert caught.value.code == "insufficient_quota"
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "insufficient_quota"
    assert openai_standin.requests[0]["messages"] == MESSAGES  # failed ones are recorded


async def test_500_is_an_internal_server_error_and_does_not_use_up_the_script(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.fail_next(500)
    openai_standin.script("after the failure")
    client = client_for(openai_standin)
    try:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert completion.choices[0].message.content == "after the failure"
    assert len(openai_standin.requests) == 2


async def test_the_sdk_retries_5xx_itself(openai_standin: OpenAIStandIn) -> None:
    openai_standin.fail_next(503, times=2, headers={"retry-after-ms": "10"})
    openai_standin.script("third time lucky")
    client = client_for(openai_standin, max_retries=2)
    try:
        completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert completion.choices[0].message.content == "third time lucky"
    assert len(openai_standin.requests) == 3
    retry_counts = [h["x-stainless-retry-count"] for h in openai_standin.request_headers]
    assert retry_counts == ["0", "1", "2"]


async def test_hang_ends_in_a_timeout_and_the_server_keeps_serving(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.hang_next()
    client = client_for(openai_standin, timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert 0.25 < time.monotonic() - started < 2
        completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert completion.choices[0].message.content == "echo: alice: hello?"


async def test_cut_stream_gives_the_partial_text_then_a_connection_error(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.script("0123456789abcdefghij")
    openai_standin.chunk_size = 3
    openai_standin.cut_stream_next(after_chars=8)
    client = client_for(openai_standin)
    received = ""
    try:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True,
            stream_options={"include_usage": True},
        )
        with pytest.raises(openai.APIConnectionError) as caught:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += chunk.choices[0].delta.content
    finally:
        await client.close()
    assert received == "01234567"
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)


async def test_cut_non_streaming_body_is_a_connection_error(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.cut_stream_next(after_chars=10)
    client = client_for(openai_standin)
    try:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()


async def test_latency_and_chunk_delay_slow_the_answer(openai_standin: OpenAIStandIn) -> None:
    openai_standin.latency = 0.15
    openai_standin.chunk_delay = 0.05
    openai_standin.chunk_size = 100
    openai_standin.script("short")
    client = client_for(openai_standin)
    try:
        started = time.monotonic()
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        first_chunk_at = None
        async for _ in stream:
            first_chunk_at = first_chunk_at or time.monotonic()
        finished = time.monotonic()
    finally:
        await client.close()
    assert first_chunk_at is not None
    assert first_chunk_at - started >= 0.15
    assert finished - first_chunk_at >= 0.05  # role, content, finish: two delays between


async def test_models_list_retrieve_and_unknown_model(openai_standin: OpenAIStandIn) -> None:
    openai_standin.models = {"gpt-4o-mini", "my-model"}
    client = client_for(openai_standin)
    try:
        listed = [model.id async for model in client.models.list()]
        retrieved = await client.models.retrieve("my-model")
        with pytest.raises(openai.NotFoundError) as missing:
            await client.models.retrieve("gpt-5-nonexistent")
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert listed == ["gpt-4o-mini", "my-model"]
    assert retrieved.id == "my-model"
    assert missing.value.code == "model_not_found"


async def test_valid_key_rejects_other_keys_with_401(openai_standin: OpenAIStandIn) -> None:
    openai_standin.valid_key = "sk-right"
    wrong = client_for(openai_standin)
    right = openai.AsyncOpenAI(base_url=openai_standin.base_url, api_key="sk-right")
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            await wrong.models.retrieve("gpt-4o")
        with pytest.raises(openai.AuthenticationError):
            await wrong.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        model = await right.models.retrieve("gpt-4o")
    finally:
        await wrong.close()
        await right.close()
    assert caught.value.code == "invalid_api_key"
    assert model.id == "gpt-4o"


@pytest.mark.parametrize(
    "request_options",
    [
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"messages": MESSAGES, "stream_options": {"include_usage": True}},
    ],
    ids=["no-messages", "unknown-role", "stream-options-without-stream"],
)
async def test_malformed_requests_are_rejected_like_openai_does(
    openai_standin: OpenAIStandIn, request_options: dict[str, Any]
) -> None:
    client = client_for(openai_standin)
    try:
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="gpt-4o", **request_options)
    finally:
        await client.close()


async def test_openai_base_url_environment_variable_reaches_the_standin(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_standin.base_url)
    client = openai.AsyncOpenAI(api_key="test", max_retries=0)
    try:
        completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
    assert completion.choices[0].message.content == "echo: alice: hello?"
    assert len(await openai_standin.wait_for_requests(1)) == 1


async def test_wait_for_requests_times_out_with_a_count(openai_standin: OpenAIStandIn) -> None:
    with pytest.raises(TimeoutError, match="expected 1 chat completion requests"):
        await openai_standin.wait_for_requests(1, timeout=0.05)


async def test_stop_ends_a_hanging_request_and_then_connections_are_refused() -> None:
    standin = OpenAIStandIn()
    await standin.start()
    standin.hang_next()
    client = client_for(standin, timeout=10.0)
    try:
        pending = asyncio.create_task(
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        )
        await standin.wait_for_requests(1)
        started = time.monotonic()
        await standin.stop()
        with pytest.raises(openai.APIConnectionError):
            await pending
        assert time.monotonic() - started < 1.0
        with pytest.raises(openai.APIConnectionError) as refused:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        await client.close()
        await standin.stop()
    assert not isinstance(refused.value, openai.APITimeoutError)
    assert isinstance(refused.value.__cause__, httpx2.ConnectError)


@pytest.mark.parametrize("model", ["gpt-5-mini", "o4-mini"])
async def test_reasoning_models_refuse_max_tokens_as_openai_does(
    openai_standin: OpenAIStandIn, model: str
) -> None:
    async with connected(openai_standin) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=50)
        accepted = await client.chat.completions.create(
            model=model, messages=MESSAGES, max_completion_tokens=50
        )
    assert refused.value.body == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    assert accepted.choices[0].message.content == "echo: alice: hello?"


@pytest.mark.parametrize(("temperature", "shown"), [(0.7, "0.7"), (0, "0"), (2, "2")])
async def test_reasoning_models_refuse_a_temperature_but_the_default(
    openai_standin: OpenAIStandIn, temperature: float, shown: str
) -> None:
    async with connected(openai_standin) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model="gpt-5-mini", messages=MESSAGES, temperature=temperature
            )
        default = await client.chat.completions.create(
            model="gpt-5-mini", messages=MESSAGES, temperature=1
        )
    assert refused.value.body == {
        "message": f"Unsupported value: 'temperature' does not support {shown} with this "
        "model. Only the default (1) value is supported.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_value",
    }
    assert default.choices[0].finish_reason == "stop"


async def test_chat_models_accept_max_tokens_and_any_temperature(
    openai_standin: OpenAIStandIn,
) -> None:
    async with connected(openai_standin) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=50, temperature=1.5
        )
    assert completion.model == "gpt-4o-2024-08-06"


async def test_a_max_tokens_only_server_refuses_max_completion_tokens(
    openai_standin: OpenAIStandIn,
) -> None:
    openai_standin.max_tokens_only = True
    async with connected(openai_standin) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=50
            )
        accepted = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=50
        )
    assert refused.value.body["message"] == (
        "Unrecognized request argument supplied: max_completion_tokens"
    )
    assert refused.value.param is None
    assert accepted.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_name_the_dated_snapshot(
    openai_standin: OpenAIStandIn, stream: bool
) -> None:
    async with connected(openai_standin) as client:
        if stream:
            chunks = await client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            )
            models = {chunk.model async for chunk in chunks}
        else:
            completion = await client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES
            )
            models = {completion.model}
        by_snapshot = await client.chat.completions.create(
            model="gpt-4o-mini-2024-07-18", messages=MESSAGES
        )
    assert models == {"gpt-4o-mini-2024-07-18"}
    assert by_snapshot.model == "gpt-4o-mini-2024-07-18"


async def collect_stream(client: openai.AsyncOpenAI) -> tuple[str, str, str | None]:
    content, refusal, finish = "", "", None
    chunks = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    async for chunk in chunks:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            refusal += choice.delta.refusal or ""
            finish = choice.finish_reason or finish
    return content, refusal, finish


async def test_length_and_refusal_can_be_scripted(openai_standin: OpenAIStandIn) -> None:
    openai_standin.script_reply("An answer that", finish_reason="length")
    openai_standin.script_refusal("I can't help with that.")
    openai_standin.script_reply("Streamed and", finish_reason="length")
    openai_standin.script_refusal("No, sorry.")
    async with connected(openai_standin) as client:
        cut = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        refused = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        streamed_cut = await collect_stream(client)
        streamed_refusal = await collect_stream(client)
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == (
        "An answer that", "length"
    )
    assert refused.choices[0].message.content is None
    assert refused.choices[0].message.refusal == "I can't help with that."
    assert streamed_cut == ("Streamed and", "", "length")
    assert streamed_refusal == ("", "No, sorry.", "stop")


async def test_past_the_bound_old_requests_are_compacted_and_counted() -> None:
    kept = 2
    async with OpenAIStandIn(requests_kept=kept) as standin, connected(standin) as client:
        for n in range(kept + 3):
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"question {n}"}]
            )

    assert len(standin.requests) == len(standin.request_headers) == kept + 3
    assert standin.requests[:3] == [{"model": "gpt-4o-mini"}] * 3
    assert standin.request_headers[:3] == [{}] * 3
    assert [body["messages"][0]["content"] for body in standin.requests[-kept:]] == [
        f"question {n}" for n in range(3, kept + 3)
    ]
    assert all(headers["authorization"] == "Bearer test"
               for headers in standin.request_headers[-kept:])
