"""Configuration: typed, complete error reports, secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.greenflash_client import GreenflashSettings
from bot.products import ProductConfig
from bot.settings import Settings, SettingsError

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
