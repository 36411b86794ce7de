"""The model layer through the real openai SDK and the OpenAI stand-in."""

from __future__ import annotations

import itertools

import pytest

from bot.llm import POLITE, ChatModel, FailureKind, ModelError
from bot.memory import Turn
from tests.helpers import SYSTEM_PROMPT, make_settings
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
