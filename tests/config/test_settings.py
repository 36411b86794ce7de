"""Configuration: typed, complete error reports, secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.products import ProductConfig
from bot.config.settings import Settings, SettingsError
from bot.greenflash_client import GreenflashSettings

BASE = {"DISCORD_TOKEN": "discord-secret-token", "OPENAI_API_KEY": "sk-secret-openai"}


def test_defaults_and_parsing() -> None:
    settings = Settings.from_env(
        BASE | {"CHAT_CHANNEL_IDS": "1, 2,3", "ANSWER_DMS": "no", "OPENAI_TEMPERATURE": "0.2"}
    )
    assert settings.chat_channel_ids == {1, 2, 3}
    assert settings.answer_dms is False
    assert settings.temperature == 0.2
    assert settings.model == "gpt-4o-mini"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"OPENAI_MAX_TOKENS": "lots", "CHAT_CHANNEL_IDS": "general"})
    problems = " ".join(caught.value.problems)
    for name in ("DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_MAX_TOKENS", "CHAT_CHANNEL_IDS"):
        assert name in problems


def test_shard_ids_must_fit_shard_count() -> None:
    with pytest.raises(SettingsError, match="SHARD_IDS"):
        Settings.from_env(BASE | {"SHARD_COUNT": "2", "SHARD_IDS": "0,2"})
    settings = Settings.from_env(BASE | {"SHARD_COUNT": "4", "SHARD_IDS": "3,1"})
    assert settings.shard_ids == (1, 3)


def test_greenflash_settings_defaults() -> None:
    greenflash = GreenflashSettings.from_env({"GREENFLASH_MAX_IN_FLIGHT": "3"})
    assert greenflash.api_key is None
    assert greenflash.timeout == 5.0
    assert greenflash.max_in_flight == 3


def test_secrets_never_in_repr() -> None:
    settings = Settings.from_env(BASE)
    greenflash = GreenflashSettings.from_env({"GREENFLASH_API_KEY": "gf-secret-key"})
    for text in (repr(settings), repr(greenflash), str(greenflash)):
        assert "secret" not in text


def test_product_config(tmp_path: Path) -> None:
    path = tmp_path / "products.toml"
    path.write_text('default_product_id = "prod-1"\n[guild_products]\n"42" = "prod-42"\n')
    products = ProductConfig.load(path)
    assert products.product_for(42) == "prod-42"
    assert products.product_for(7) == "prod-1"
    assert products.product_for(None) == "prod-1"
    path.write_text('[guild_products]\n"not-an-id" = "x"\n')
    with pytest.raises(ValueError, match="not-an-id"):
        ProductConfig.load(path)


def test_committed_products_file_parses() -> None:
    assert isinstance(ProductConfig.load(), ProductConfig)


def problems_for(**environ: str) -> list[str]:
    """The problems ``Settings.from_env`` reports for BASE plus ``environ``."""
    try:
        Settings.from_env(BASE | environ)
    except SettingsError as error:
        return error.problems
    return []


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("OPENAI_MAX_TOKENS", "lots", "OPENAI_MAX_TOKENS must be a whole number (got 'lots')"),
        ("OPENAI_MAX_TOKENS", "0", "OPENAI_MAX_TOKENS must be at least 1 (got 0)"),
        ("OPENAI_TIMEOUT", "soon", "OPENAI_TIMEOUT must be a number (got 'soon')"),
        ("OPENAI_TIMEOUT", "0.5", "OPENAI_TIMEOUT must be at least 1.0 (got 0.5)"),
        ("STREAM_REPLIES", "maybe", "STREAM_REPLIES must be true or false (got 'maybe')"),
        ("CHAT_CHANNEL_IDS", "1,general",
         "CHAT_CHANNEL_IDS must be comma-separated Discord ids (got 'general')"),
        ("OPENAI_TEMPERATURE", "warm", "OPENAI_TEMPERATURE must be a number (got 'warm')"),
        ("OPENAI_TEMPERATURE", "2.5", "OPENAI_TEMPERATURE must be between 0 and 2 (got 2.5)"),
        ("OPENAI_TEMPERATURE", "-0.1",
         "OPENAI_TEMPERATURE must be between 0 and 2 (got -0.1)"),
        ("OPENAI_REASONING_EFFORT", "extreme",
         "OPENAI_REASONING_EFFORT must be one of none, minimal, low, medium, high, xhigh, max "
         "(got 'extreme')"),
        ("OPENAI_TOKEN_PARAMETER", "tokens",
         "OPENAI_TOKEN_PARAMETER must be one of auto, max_completion_tokens, max_tokens "
         "(got 'tokens')"),
        ("OPENAI_CONNECT_TIMEOUT", "0.1", "OPENAI_CONNECT_TIMEOUT must be at least 0.5 (got 0.1)"),
    ],
)
def test_each_bad_value_is_named_in_one_line(name: str, raw: str, expected: str) -> None:
    assert problems_for(**{name: raw}) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{top_k: 5}", "OPENAI_EXTRA_BODY must be a JSON object (Expecting property name "
         "enclosed in double quotes at 1)"),
        ("[1, 2]", "OPENAI_EXTRA_BODY must be a JSON object (got list)"),
        ('"text"', "OPENAI_EXTRA_BODY must be a JSON object (got str)"),
        ('{"stream": false, "model": "x", "top_k": 5}',
         "OPENAI_EXTRA_BODY must not set model, stream: the bot sets them (use the dedicated "
         "setting)"),
        ('{"max_tokens": 10}',
         "OPENAI_EXTRA_BODY must not set max_tokens: the bot sets them (use the dedicated "
         "setting)"),
    ],
)
def test_extra_body_is_checked_at_start_up(raw: str, expected: str) -> None:
    assert problems_for(OPENAI_EXTRA_BODY=raw) == [expected]


def test_model_settings_default_to_what_every_model_accepts() -> None:
    settings = Settings.from_env(BASE)
    assert settings.temperature is None
    assert settings.reasoning_effort is None
    assert settings.token_parameter == "auto"
    assert settings.extra_body == {}
    assert settings.openai_connect_timeout < settings.openai_timeout


def test_model_settings_parse() -> None:
    settings = Settings.from_env(
        BASE
        | {
            "OPENAI_TEMPERATURE": "0",
            "OPENAI_REASONING_EFFORT": "High",
            "OPENAI_TOKEN_PARAMETER": "max_tokens",
            "OPENAI_EXTRA_BODY": '{"top_k": 20, "chat_template_kwargs": {"thinking": false}}',
            "OPENAI_TIMEOUT": "90",
            "OPENAI_CONNECT_TIMEOUT": "3",
        }
    )
    assert settings.temperature == 0.0
    assert settings.reasoning_effort == "high"
    assert settings.token_parameter == "max_tokens"
    assert settings.extra_body == {"top_k": 20, "chat_template_kwargs": {"thinking": False}}
    assert (settings.openai_timeout, settings.openai_connect_timeout) == (90.0, 3.0)


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("ON", True), ("0", False),
                                               ("False", False)])
def test_flags_read_every_spelling(raw: str, expected: bool) -> None:
    assert Settings.from_env(BASE | {"ANSWER_DMS": raw}).answer_dms is expected


def test_blank_values_mean_unset() -> None:
    settings = Settings.from_env(BASE | {"OPENAI_MODEL": "  ", "OPENAI_TEMPERATURE": ""})
    assert settings.model == "gpt-4o-mini"
    assert settings.temperature is None


def test_shard_ids_need_shard_count() -> None:
    assert problems_for(SHARD_IDS="0,1") == ["SHARD_IDS needs SHARD_COUNT"]


def test_missing_secrets_are_named() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({})
    assert caught.value.problems == ["DISCORD_TOKEN is missing", "OPENAI_API_KEY is missing"]
    assert str(caught.value) == (
        "invalid configuration: DISCORD_TOKEN is missing; OPENAI_API_KEY is missing"
    )
