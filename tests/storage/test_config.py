"""The storage settings read from the environment."""

from __future__ import annotations

import pytest

from bot.config.base import SettingsError
from bot.config.environment import load_configuration
from bot.storage import Budget, StorageConfig
from tests.helpers import use_environment

BASE = {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k"}


def storage(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> StorageConfig:
    use_environment(monkeypatch, BASE | environ)
    return load_configuration().storage


def test_defaults_keep_the_bot_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    config = storage(monkeypatch, {"OPENAI_MODEL": "gpt-4.1-mini"})
    assert config.model_allowlist == ("gpt-4.1-mini",)
    assert config.default_model == "gpt-4.1-mini"
    assert config.default_budget == Budget()
    assert config.database_url is None
    assert config.database_path == "data/bot.sqlite3"


def test_the_first_allowed_model_is_the_default_and_duplicates_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = storage(monkeypatch, {
        "MODEL_ALLOWLIST": " gpt-4o , o3-mini,gpt-4o,, ",
        "DAILY_TOKEN_BUDGET": "20000",
        "DAILY_MESSAGE_BUDGET": "0",
        "DATABASE_URL": "postgres://bot:hunter2hunter2@db.example:5432/bot",
        "ADMIN_ROLE": "Bot admins",
        "BUDGET_EXEMPT_ADMINS": "false",
    })
    assert config.model_allowlist == ("gpt-4o", "o3-mini")
    assert config.default_model == "gpt-4o"
    assert config.default_budget == Budget(tokens=20000, messages=None)
    assert (config.admin_role, config.budget_exempt_admins) == ("Bot admins", False)
    assert "hunter2hunter2" not in repr(config)
    assert config.engine_url().password == "hunter2hunter2"


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as raised:
        storage(monkeypatch, {
            "MODEL_ALLOWLIST": "m" * 101,
            "DAILY_TOKEN_BUDGET": "lots",
            "DATABASE_TIMEOUT": "0",
            "DATABASE_URL": "mysql://bot:secret-password@db/bot",
        })
    problems = " ".join(raised.value.problems)
    assert "secret-password" not in problems
    for name in ("MODEL_ALLOWLIST", "DAILY_TOKEN_BUDGET", "DATABASE_TIMEOUT", "DATABASE_URL"):
        assert name in problems
