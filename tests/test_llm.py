"""The model layer through the real openai SDK and the OpenAI stand-in."""

from __future__ import annotations

import itertools
import logging

import pytest

from bot.conversation.exchange import LENGTH_NOTE, Completion
from bot.conversation.failures import POLITE, FailureKind, ModelError
from bot.conversation.memory import Turn
from bot.llm import ChatModel
from tests.helpers import SYSTEM_PROMPT, make_settings, model_for
from tests.standins.openai_server import INSUFFICIENT_QUOTA, OpenAIStandIn

TURNS = [
    Turn("user", "What is 2+2?", "Alice"),
    Turn("assistant", "4."),
    Turn("user", "And times 3?", "Bob"),
]


@pytest.fixture
def model(openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> ChatModel:
    """Built the way the bot builds it: the base URL comes from OPENAI_BASE_URL."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_standin.base_url)
    return ChatModel(make_settings(openai_timeout=1.0, stream_replies=True))


async def test_completion_sends_system_prompt_and_named_turns(
    model: ChatModel, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script("12.")
    completion = await model.reply(TURNS)
    assert completion.text == "12."
    assert completion.usage.completion_tokens > 0
    body = openai_standin.requests[-1]
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Alice: What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "Bob: And times 3?"},
    ]
    assert body["model"] == "gpt-4o-mini"
    assert body.get("stream") in (None, False)
    await model.close()


async def test_stream_reports_growing_text(model: ChatModel, openai_standin: OpenAIStandIn) -> None:
    openai_standin.script("The answer is twelve, of course.")
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    completion = await model.reply(TURNS, on_text=on_text)
    assert completion.text == "The answer is twelve, of course."
    assert len(seen) > 3
    assert seen[-1] == completion.text
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))
    assert completion.usage.prompt_tokens > 0
    assert openai_standin.requests[-1]["stream"] is True
    await model.close()


@pytest.mark.parametrize(
    ("arrange", "kind"),
    [
        (lambda s: s.fail_next(429, body=INSUFFICIENT_QUOTA), FailureKind.QUOTA),
        (lambda s: s.fail_next(429), FailureKind.RATE_LIMITED),
        (lambda s: s.fail_next(500), FailureKind.SERVER_ERROR),
        (lambda s: s.fail_next(400), FailureKind.REJECTED),
        (lambda s: s.hang_next(), FailureKind.TIMEOUT),
    ],
)
async def test_failures_become_one_polite_sentence(
    model: ChatModel, openai_standin: OpenAIStandIn, arrange: object, kind: FailureKind
) -> None:
    arrange(openai_standin)  # type: ignore[operator]
    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS)
    assert caught.value.kind is kind
    assert caught.value.user_message == POLITE[kind]
    assert "Traceback" not in caught.value.user_message
    await model.close()


async def test_unknown_model_is_a_configuration_failure(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_standin.base_url)
    model = ChatModel(make_settings(model="gpt-nonexistent", stream_replies=False))
    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS)
    assert caught.value.kind is FailureKind.MISCONFIGURED
    await model.close()


async def test_cut_stream_keeps_the_partial_text(
    model: ChatModel, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script("Part one of the answer, and part two that never arrives.")
    openai_standin.cut_stream_next(after_chars=20)

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS, on_text=on_text)
    assert caught.value.kind is FailureKind.UNREACHABLE
    assert caught.value.partial_text == "Part one of the answ"
    await model.close()


async def test_refused_connection(model: ChatModel, openai_standin: OpenAIStandIn) -> None:
    await openai_standin.stop()
    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS)
    assert caught.value.kind is FailureKind.UNREACHABLE
    await model.close()


async def answer(model: ChatModel) -> Completion:
    """One reply (streamed when the model streams), then the model closed."""

    async def on_text(text: str) -> None:
        return None

    try:
        return await model.reply(TURNS, on_text=on_text)
    finally:
        await model.close()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", ["gpt-5-mini", "o4-mini"])
async def test_reasoning_models_answer_with_the_default_settings(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch, name: str, stream: bool
) -> None:
    model = model_for(openai_standin, monkeypatch, model=name, stream_replies=stream)
    openai_standin.script("Twelve.")
    completion = await answer(model)
    assert completion.text == "Twelve."
    body = openai_standin.requests[-1]
    assert body["max_completion_tokens"] == 800
    assert "max_tokens" not in body
    assert "temperature" not in body
    assert "reasoning_effort" not in body
    assert len(openai_standin.requests) == 1


async def test_temperature_effort_and_extra_body_go_out_when_set(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_for(
        openai_standin, monkeypatch, temperature=0.3, reasoning_effort="low",
        extra_body={"top_k": 20, "chat_template_kwargs": {"thinking": False}},
    )
    await model.reply(TURNS)
    await model.close()
    body = openai_standin.requests[-1]
    assert body["temperature"] == 0.3
    assert body["reasoning_effort"] == "low"
    assert body["top_k"] == 20
    assert body["chat_template_kwargs"] == {"thinking": False}


async def test_a_temperature_a_reasoning_model_refuses_is_the_rejected_sentence(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_for(openai_standin, monkeypatch, model="gpt-5-mini", temperature=0.7)
    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS)
    await model.close()
    assert caught.value.kind is FailureKind.REJECTED
    assert len(openai_standin.requests) == 1


async def test_a_max_tokens_only_server_is_detected_once_and_remembered(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_standin.max_tokens_only = True
    model = model_for(openai_standin, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        first = await model.reply(TURNS)
        second = await model.reply(TURNS)
    await model.close()
    assert first.text == second.text == "echo: Bob: And times 3?"
    sent = [
        "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        for body in openai_standin.requests
    ]
    assert sent == ["max_completion_tokens", "max_tokens", "max_tokens"]
    switches = [r for r in caplog.records if "from now on" in r.getMessage()]
    assert len(switches) == 1


async def test_auto_switches_back_when_max_tokens_is_refused(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that learnt max_tokens from one server keeps working when the operator's
    model turns out to be a reasoning model (the switch goes both ways)."""
    openai_standin.max_tokens_only = True
    model = model_for(openai_standin, monkeypatch)
    await model.reply(TURNS)
    openai_standin.max_tokens_only = False
    model.model = "gpt-5-mini"
    completion = await model.reply(TURNS)
    await model.close()
    assert completion.text.startswith("echo:")
    assert "max_completion_tokens" in openai_standin.requests[-1]


@pytest.mark.parametrize("parameter", ["max_tokens", "max_completion_tokens"])
async def test_a_fixed_token_parameter_is_never_switched(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch, parameter: str
) -> None:
    openai_standin.max_tokens_only = parameter == "max_completion_tokens"
    name = "gpt-5-mini" if parameter == "max_tokens" else "gpt-4o-mini"
    model = model_for(openai_standin, monkeypatch, model=name, token_parameter=parameter)
    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS)
    await model.close()
    assert caught.value.kind is FailureKind.REJECTED
    assert [parameter in body for body in openai_standin.requests] == [True]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_length_cut_answer_is_marked(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    model = model_for(openai_standin, monkeypatch, stream_replies=stream)
    openai_standin.script_reply("```python\nprint(1", finish_reason="length")
    completion = await answer(model)
    assert completion.finish_reason == "length"
    assert completion.cut_off
    assert completion.shown_text.startswith(completion.text)
    assert completion.shown_text.endswith(LENGTH_NOTE)
    # The note is outside the code block the answer left open.
    assert completion.shown_text.count("```") % 2 == 0


async def test_a_complete_answer_is_shown_as_it_is_named_by_its_snapshot(
    model: ChatModel, openai_standin: OpenAIStandIn
) -> None:
    completion = await answer(model)
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.finish_reason == "stop"
    assert not completion.cut_off
    assert completion.shown_text == completion.text


@pytest.mark.parametrize("stream", [False, True])
async def test_a_refusal_is_shown_and_flagged(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    model = model_for(openai_standin, monkeypatch, stream_replies=stream)
    openai_standin.script_refusal("I can't help with that.")
    completion = await answer(model)
    assert completion.text == "I can't help with that."
    assert completion.refused


async def test_a_non_streamed_answer_that_times_out_is_not_sent_again(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request reached the server, which may be generating (and billing) the answer:
    the SDK's retries must not pay for it twice more."""
    model = model_for(openai_standin, monkeypatch, openai_timeout=1.0, openai_max_retries=2)
    openai_standin.hang_next(times=3)
    with pytest.raises(ModelError) as caught:
        await model.reply(TURNS)
    await model.close()
    assert caught.value.kind is FailureKind.TIMEOUT
    assert len(openai_standin.requests) == 1
    assert openai_standin.pending_faults == 2


async def test_unbilled_failures_are_still_retried(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_for(openai_standin, monkeypatch, openai_max_retries=2)
    openai_standin.fail_next(500, times=2)
    completion = await model.reply(TURNS)
    await model.close()
    assert completion.text.startswith("echo:")
    assert len(openai_standin.requests) == 3
