"""Configuration: typed, complete error reports, secrets kept out of reprs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from bot.config.base import SettingsError, comma_separated, read_settings
from bot.config.environment import load_configuration
from bot.config.products import ProductConfig
from bot.config.settings import Settings, discord_ids
from bot.greenflash_client import GreenflashSettings
from tests.helpers import use_environment

BASE = {"DISCORD_TOKEN": "discord-secret-token", "OPENAI_API_KEY": "sk-secret-openai"}


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Settings]:
    """Settings read from exactly these variables."""
    def read(environ: dict[str, str]) -> Settings:
        use_environment(monkeypatch, environ)
        return read_settings(Settings)
    return read


def test_defaults_and_parsing(read: Callable[[dict[str, str]], Settings]) -> None:
    settings = read(
        BASE | {"CHAT_CHANNEL_IDS": "1, 2,3", "ANSWER_DMS": "no", "OPENAI_TEMPERATURE": "0.2"}
    )
    assert settings.chat_channel_ids == {1, 2, 3}
    assert settings.answer_dms is False
    assert settings.temperature == 0.2
    assert settings.model == "gpt-4o-mini"


def problems_for(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> list[str]:
    """The problems start-up reports for exactly ``environ``."""
    use_environment(monkeypatch, environ)
    try:
        load_configuration()
    except SettingsError as error:
        return error.problems
    return []


def test_every_problem_of_every_model_is_reported_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problems = problems_for(monkeypatch, {
        "OPENAI_MAX_TOKENS": "lots", "CHAT_CHANNEL_IDS": "general", "GREENFLASH_TIMEOUT": "0",
        "DATABASE_TIMEOUT": "x", "STARTUP_ATTEMPTS": "0", "VISION": "maybe", "LOG_LEVEL": "loud",
    })
    named = [problem.split()[0] for problem in problems]
    assert named == ["DISCORD_TOKEN", "OPENAI_API_KEY", "OPENAI_MAX_TOKENS", "CHAT_CHANNEL_IDS",
                     "VISION", "GREENFLASH_TIMEOUT", "STARTUP_ATTEMPTS", "DATABASE_TIMEOUT",
                     "LOG_LEVEL"]


def test_shard_ids_must_fit_shard_count(
    monkeypatch: pytest.MonkeyPatch, read: Callable[[dict[str, str]], Settings]
) -> None:
    assert problems_for(monkeypatch, BASE | {"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}) == [
        "SHARD_IDS must be below SHARD_COUNT (2)"
    ]
    settings = read(BASE | {"SHARD_COUNT": "4", "SHARD_IDS": "3,1"})
    assert settings.shard_ids == (1, 3)


def test_greenflash_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, {"GREENFLASH_MAX_IN_FLIGHT": "3"})
    greenflash = read_settings(GreenflashSettings)
    assert greenflash.api_key is None
    assert greenflash.timeout == 5.0
    assert greenflash.max_in_flight == 3


def test_secrets_never_in_repr_nor_in_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, BASE | {"GREENFLASH_API_KEY": "gf-secret-key",
                                         "DATABASE_URL": "postgres://u:pw-secret@h/db"})
    config = load_configuration()
    for text in (repr(config), str(config), config.settings.model_dump_json()):
        assert "secret" not in text
    assert config.greenflash.api_key is not None
    assert config.greenflash.api_key.get_secret_value() == "gf-secret-key"
    problems = problems_for(monkeypatch, {"DATABASE_URL": "not a url at all, secret-pw"})
    assert "DATABASE_URL is not a URL (postgres://user:password@host:5432/dbname)" in problems
    assert "secret" not in " ".join(problems)


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
        ("COOLDOWN_SECONDS", "-1", "COOLDOWN_SECONDS must be at least 0.0 (got -1)"),
        ("LOG_LEVEL", "loud",
         "LOG_LEVEL must be one of debug, info, warning, error, critical (got 'loud')"),
        ("DEBUG_LOGGERS", "bot.llm,discord gateway",
         "DEBUG_LOGGERS must be comma-separated logger names like bot.llm "
         "(got 'discord gateway')"),
    ],
)
def test_each_bad_value_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, expected: str
) -> None:
    assert problems_for(monkeypatch, BASE | {name: raw}) == [expected]


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
def test_extra_body_is_checked_at_start_up(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: str
) -> None:
    assert problems_for(monkeypatch, BASE | {"OPENAI_EXTRA_BODY": raw}) == [expected]


def test_model_settings_default_to_what_every_model_accepts(
    read: Callable[[dict[str, str]], Settings],
) -> None:
    settings = read(BASE)
    assert settings.temperature is None
    assert settings.reasoning_effort is None
    assert settings.token_parameter == "auto"
    assert settings.extra_body == {}
    assert settings.openai_base_url is None
    assert settings.openai_connect_timeout < settings.openai_timeout


def test_model_settings_parse(read: Callable[[dict[str, str]], Settings]) -> None:
    settings = read(
        BASE
        | {
            "OPENAI_TEMPERATURE": "0",
            "OPENAI_REASONING_EFFORT": "High",
            "OPENAI_TOKEN_PARAMETER": "max_tokens",
            "OPENAI_EXTRA_BODY": '{"top_k": 20, "chat_template_kwargs": {"thinking": false}}',
            "OPENAI_TIMEOUT": "90",
            "OPENAI_CONNECT_TIMEOUT": "3",
            "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
        }
    )
    assert settings.temperature == 0.0
    assert settings.reasoning_effort == "high"
    assert settings.token_parameter == "max_tokens"
    assert settings.extra_body == {"top_k": 20, "chat_template_kwargs": {"thinking": False}}
    assert (settings.openai_timeout, settings.openai_connect_timeout) == (90.0, 3.0)
    assert settings.openai_base_url == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("ON", True), ("0", False),
                                               ("False", False)])
def test_flags_read_every_spelling(
    read: Callable[[dict[str, str]], Settings], raw: str, expected: bool
) -> None:
    assert read(BASE | {"ANSWER_DMS": raw}).answer_dms is expected


def test_blank_values_mean_unset(read: Callable[[dict[str, str]], Settings]) -> None:
    settings = read(BASE | {"OPENAI_MODEL": "  ", "OPENAI_TEMPERATURE": ""})
    assert settings.model == "gpt-4o-mini"
    assert settings.temperature is None


def test_names_are_exact(read: Callable[[dict[str, str]], Settings]) -> None:
    """Variables are read by their documented names only, as before: not by field name,
    not in another case."""
    settings = read(BASE | {"model": "x", "openai_model": "y", "max_tokens": "5"})
    assert (settings.model, settings.max_tokens) == ("gpt-4o-mini", 800)


def test_shard_ids_need_shard_count(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems_for(monkeypatch, BASE | {"SHARD_IDS": "0,1"}) == [
        "SHARD_IDS needs SHARD_COUNT"
    ]


def test_missing_secrets_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        load_configuration()
    assert caught.value.problems == ["DISCORD_TOKEN is missing", "OPENAI_API_KEY is missing"]
    assert str(caught.value) == (
        "invalid configuration: DISCORD_TOKEN is missing; OPENAI_API_KEY is missing"
    )


ITEM = st.text(st.characters(exclude_characters=","), min_size=1, max_size=12).filter(
    lambda text: text.strip() == text
)
SEPARATOR = st.sampled_from([",", ", ", " ,", ",,", " , "])


@given(items=st.lists(ITEM, max_size=8), separators=st.data())
def test_comma_separated_keeps_each_item_once_in_order(
    items: list[str], separators: st.DataObject
) -> None:
    raw = "".join(item + separators.draw(SEPARATOR) for item in items)
    assert comma_separated(raw) == tuple(dict.fromkeys(items))


@given(ids=st.frozensets(st.integers(min_value=0, max_value=2**64)),
       separator=st.sampled_from([",", ", ", " ", "  ,"]))
def test_discord_ids_read_back_what_was_written(ids: frozenset[int], separator: str) -> None:
    assert discord_ids(separator.join(str(i) for i in sorted(ids))) == ids


WORD = st.text(st.characters(exclude_characters=", "), min_size=1, max_size=20).filter(
    lambda text: bool(text.strip()) and not (text.strip().isascii() and text.strip().isdigit())
)


@given(word=WORD)
def test_anything_but_ascii_digits_is_named_as_not_an_id(word: str) -> None:
    with pytest.raises(PydanticCustomError) as raised:
        discord_ids(f"1,{word},2")
    assert str(raised.value) == f"must be comma-separated Discord ids (got {word.strip()!r})"
