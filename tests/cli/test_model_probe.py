"""The doctor's model probe through the real openai SDK and the OpenAI stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from bot.cli.model_probe import probe
from tests.helpers import model_for
from tests.standins.openai_server import OpenAIStandIn


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [({"temperature": 0.7}, "temperature"), ({"token_parameter": "max_tokens"}, "max_tokens")],
)
async def test_probe_names_the_refused_parameter(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch,
    overrides: dict[str, Any], refused: str,
) -> None:
    model = model_for(openai_standin, monkeypatch, model="gpt-5-mini", **overrides)
    result = await probe(model)
    await model.close()
    assert not result.ok
    assert result.refused_parameter == refused
    assert repr(refused) in result.detail


async def test_probe_passes_when_a_reasoning_model_spends_every_token_thinking(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_for(openai_standin, monkeypatch, model="o4-mini", reasoning_effort="high")
    openai_standin.script_reply("", finish_reason="length")
    result = await probe(model)
    await model.close()
    assert result.ok, result.detail
    body = openai_standin.requests[-1]
    assert body["reasoning_effort"] == "high"
    assert 1 <= body["max_completion_tokens"] < 800


async def test_probe_reports_an_unreachable_server(
    openai_standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_for(openai_standin, monkeypatch, openai_timeout=1.0)
    await openai_standin.stop()
    result = await probe(model)
    await model.close()
    assert not result.ok
    assert "unreachable" in result.detail
