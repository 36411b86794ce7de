"""``doctor`` proves the configured model accepts the bot's own request, through the stand-in."""

from __future__ import annotations

import os
from unittest import mock

from bot.cli.doctor import Status, check_openai
from tests.bot_harness import Stands, bot_settings


async def model_check(
    stands: Stands, name: str = "OpenAI model", **overrides: object
) -> tuple[Status, str, str]:
    with mock.patch.dict(os.environ, {"OPENAI_BASE_URL": stands.openai.base_url}):
        checks = await check_openai(bot_settings(stands, **overrides))
    check = {check.name: check for check in checks}[name]
    return check.status, check.detail, check.fix


async def test_a_model_that_takes_tools_passes_the_tools_check(stands: Stands) -> None:
    status, detail, _ = await model_check(stands, "OpenAI tools")
    assert status is Status.PASS, detail
    assert stands.openai.requests[-1]["tools"][0]["function"]["name"] == "read_channel"
    assert stands.openai.requests[-1]["tool_choice"] == "none"


async def test_a_server_without_tools_is_a_warning_naming_the_setting(stands: Stands) -> None:
    stands.openai.no_tools_models.add("gpt-4o-mini")
    status, detail, fix = await model_check(stands, "OpenAI tools")
    assert status is Status.WARN
    assert "answered without looking anything up" in detail
    assert "TOOLS" in fix
    status, detail, fix = await model_check(stands, "OpenAI tools", tools="on")
    assert status is Status.WARN
    assert "does not support tools" in detail


async def test_tools_off_skips_the_tools_check(stands: Stands) -> None:
    with mock.patch.dict(os.environ, {"OPENAI_BASE_URL": stands.openai.base_url}):
        checks = await check_openai(bot_settings(stands, tools="off"))
    assert "OpenAI tools" not in {check.name for check in checks}


async def test_a_reasoning_model_with_a_temperature_fails_and_names_it(stands: Stands) -> None:
    status, detail, fix = await model_check(stands, model="gpt-5-mini", temperature=0.7)
    assert status is Status.FAIL
    assert "'temperature'" in detail
    assert "Only the default (1) value is supported" in detail
    assert "OPENAI_TEMPERATURE" in fix


async def test_max_tokens_on_a_reasoning_model_fails_and_names_the_setting(
    stands: Stands,
) -> None:
    status, detail, fix = await model_check(stands, model="o4-mini", token_parameter="max_tokens")
    assert status is Status.FAIL
    assert "'max_tokens'" in detail
    assert "OPENAI_TOKEN_PARAMETER" in fix


async def test_the_probe_sends_the_bots_own_parameters(stands: Stands) -> None:
    status, detail, _ = await model_check(
        stands, model="gpt-5-mini", reasoning_effort="minimal", extra_body={"store": False}
    )
    assert status is Status.PASS, detail
    body = stands.openai.requests[-1]
    assert body["model"] == "gpt-5-mini"
    assert body["reasoning_effort"] == "minimal"
    assert body["store"] is False
    assert "max_completion_tokens" in body


async def test_a_max_tokens_only_server_passes_through_the_fallback(stands: Stands) -> None:
    stands.openai.max_tokens_only = True
    status, detail, _ = await model_check(stands)
    assert status is Status.PASS, detail
    assert "max_tokens" in detail
    assert "max_tokens" in stands.openai.requests[-1]


async def test_a_parameter_refused_without_param_is_found_in_the_message(
    stands: Stands,
) -> None:
    """Older servers leave ``param`` null and name the field in the message only."""
    stands.openai.max_tokens_only = True
    status, detail, fix = await model_check(stands, token_parameter="max_completion_tokens")
    assert status is Status.FAIL
    assert "'max_completion_tokens'" in detail
    assert "OPENAI_TOKEN_PARAMETER" in fix
