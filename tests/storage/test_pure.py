"""Property tests for the pure parts of bot/storage: the TTL cache, the UTC day boundary,
the URL translation, the budget arithmetic and the channel inheritance rules."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from bot.conversation.personas import DEFAULT_PERSONA, persona_name, prompt_id, voice_of
from bot.storage import Budget, GuildBudget, Usage, describe, engine_url
from bot.storage.budget import effective_budget, exhausted, reset_time, usage_day
from bot.storage.cache import TTLCache
from bot.storage.channels import (
    MAX_PERSONA_CHARS,
    ChannelRow,
    ChannelSettings,
    GuildRow,
    clean_persona,
    resolve,
)
from tests.storage.conftest import FakeClock

# --- cache ---------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 5), st.integers()),
        st.tuples(st.just("advance"), st.floats(0, 50, allow_nan=False), st.none()),
    ),
    max_size=60,
)


@given(operations, st.floats(0.5, 40), st.integers(1, 4))
def test_cache_returns_the_last_write_fresh_only_within_the_ttl(ops, ttl, max_entries) -> None:
    """Against a reference model: the last ``max_entries`` keys written survive, each with
    its last value, fresh exactly while younger than the TTL."""
    clock = FakeClock()
    cache: TTLCache[int, int] = TTLCache(ttl, max_entries=max_entries, clock=clock)
    model: OrderedDict[int, tuple[int, float]] = OrderedDict()
    for op, key, value in ops:
        if op == "put":
            cache.put(key, value)
            model[key] = (value, clock.now)
            model.move_to_end(key)
            while len(model) > max_entries:
                model.popitem(last=False)
        else:
            clock.advance(key)
        assert len(cache) == len(model) <= max_entries
    for key in range(6):
        hit = cache.get(key)
        if key not in model:
            assert hit is None
            continue
        value, stored_at = model[key]
        assert hit is not None
        assert hit.value == value
        assert hit.fresh == (clock.now - stored_at < ttl)


@given(st.integers(), st.integers(), st.integers())
def test_a_refresh_read_before_a_write_cannot_replace_it(old, newer, refreshed) -> None:
    cache: TTLCache[str, int] = TTLCache(10, clock=FakeClock())
    cache.put("k", old)
    serial = cache.serial("k")
    cache.put("k", newer)
    assert not cache.put_if("k", refreshed, serial)
    assert cache.get("k").value == newer  # type: ignore[union-attr]
    assert cache.put_if("k", refreshed, cache.serial("k"))
    assert cache.get("k").value == refreshed  # type: ignore[union-attr]


# --- the day boundary ------------------------------------------------------------------

aware = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [dt.UTC, *(dt.timezone(dt.timedelta(minutes=m)) for m in (-720, -330, 60, 345, 840))]
    ),
)


@given(aware)
def test_usage_resets_at_the_next_utc_midnight(now: dt.datetime) -> None:
    resets = reset_time(now)
    assert resets.tzinfo is dt.UTC
    assert (resets.hour, resets.minute, resets.second, resets.microsecond) == (0, 0, 0, 0)
    assert dt.timedelta(0) < resets - now <= dt.timedelta(days=1)
    assert usage_day(now) == now.astimezone(dt.UTC).date()
    assert usage_day(resets) == usage_day(now) + dt.timedelta(days=1)


# --- URL translation -----------------------------------------------------------------

words = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)
ssl_modes = st.sampled_from(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])


@given(
    st.sampled_from(["postgres", "postgresql"]), words, st.text(min_size=8, max_size=20),
    words, st.integers(1, 65535), words, st.none() | ssl_modes,
)
def test_heroku_postgres_urls_become_asyncpg_urls(
    scheme, user, password, host, port, database, sslmode
) -> None:
    query = f"?sslmode={sslmode}&application_name=bot" if sslmode else ""
    raw = f"{scheme}://{user}:{quote(password, safe='')}@{host}:{port}/{database}{query}"
    url = engine_url(raw, "ignored.sqlite3")
    assert url.drivername == "postgresql+asyncpg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        user, password, host, port, database
    )
    assert "sslmode" not in url.query
    assert url.query.get("ssl") == sslmode
    if sslmode:
        assert url.query["application_name"] == "bot"
    shown = make_url(describe(url))
    assert shown.password == "***"
    assert (shown.username, shown.host, shown.database) == (user, host, database)


@given(st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1).map(
    lambda name: f"somewhere/{name}.sqlite3"
))
def test_without_a_url_the_sqlite_file_is_used(path: str) -> None:
    url = engine_url("", path)
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", path)


def test_other_databases_are_refused() -> None:
    try:
        engine_url("mysql://u:p@h/db", "x")
    except ValueError as error:
        assert "mysql" in str(error)
    else:
        raise AssertionError("a MySQL URL was accepted")


# --- budgets -------------------------------------------------------------------------

limits = st.none() | st.integers(0, 10**9)
budgets = st.builds(Budget, st.none() | st.integers(1, 10**9), st.none() | st.integers(1, 10**6))
usages = st.builds(Usage, st.integers(0, 10**9), st.integers(0, 10**6))


@given(st.none() | st.builds(GuildBudget, limits, limits), budgets)
def test_a_guild_setting_overrides_the_default_part_by_part(guild, default) -> None:
    budget = effective_budget(guild, default)
    for own, fallback, result in (
        (guild and guild.tokens, default.tokens, budget.tokens),
        (guild and guild.messages, default.messages, budget.messages),
    ):
        if own is None:
            assert result == fallback
        elif own == 0:
            assert result is None
        else:
            assert result == own


@given(budgets, usages, st.integers(0, 10**6), st.integers(0, 10**3))
def test_a_budget_once_used_up_stays_used_up(budget, usage, more_tokens, more_messages) -> None:
    later = Usage(usage.tokens + more_tokens, usage.messages + more_messages)
    if exhausted(budget, usage):
        assert exhausted(budget, later)
    assert not exhausted(Budget(), later)
    if budget.tokens is not None:
        only_tokens = Budget(tokens=budget.tokens)
        assert exhausted(only_tokens, Usage(budget.tokens, 0))
        assert not exhausted(only_tokens, Usage(budget.tokens - 1, 10**9))


# --- channel inheritance -------------------------------------------------------------

allowlists = st.lists(words, min_size=1, max_size=4, unique=True).map(tuple)
maybe_words = st.none() | words
rows = st.none() | st.builds(ChannelRow, maybe_words, maybe_words)


@given(rows, rows, st.none() | st.builds(GuildRow, maybe_words), allowlists, st.booleans())
def test_own_setting_then_parent_then_guild_then_default(
    channel, parent, guild, allowlist, is_thread
) -> None:
    parent_id = 2 if is_thread else None
    parent = parent if is_thread else None
    settings = resolve(1, channel, parent_id=parent_id, parent=parent, guild=guild,
                       allowlist=allowlist)
    own = channel.persona if channel else None
    inherited = parent.persona if parent else None
    assert settings.persona == (own if own is not None else inherited)
    expected_owner = 1 if own is not None else (2 if inherited is not None else None)
    assert settings.persona_channel_id == expected_owner
    assert settings.model in allowlist
    chain = [
        ("channel", channel and channel.model), ("parent", parent and parent.model),
        ("guild", guild and guild.model),
    ]
    allowed = [(where, name) for where, name in chain if name in allowlist]
    assert (settings.model_source, settings.model) == (
        allowed[0] if allowed else ("default", allowlist[0])
    )


@given(st.text(max_size=MAX_PERSONA_CHARS + 50))
def test_a_persona_is_stripped_and_bounded(text: str) -> None:
    stripped = text.strip()
    try:
        persona = clean_persona(text)
    except ValueError:
        assert not stripped or len(stripped) > MAX_PERSONA_CHARS
    else:
        assert persona == stripped
        assert 0 < len(persona) <= MAX_PERSONA_CHARS


@given(st.text(min_size=1), st.none() | st.text(min_size=1, max_size=MAX_PERSONA_CHARS))
def test_a_persona_adds_to_the_framing_and_never_replaces_it(framing, persona) -> None:
    settings = ChannelSettings(persona, 1 if persona else None, "gpt-4o-mini", "default")
    prompt = settings.system_prompt(framing)
    if persona is None:
        assert prompt == framing
    else:
        assert prompt.startswith(framing + "\n\n")
        assert prompt.endswith("\n" + persona)


snowflakes = st.integers(min_value=1, max_value=2**63 - 1)


@given(st.text(min_size=1, max_size=MAX_PERSONA_CHARS), st.text(min_size=1, max_size=50),
       snowflakes, snowflakes)
def test_a_persona_is_named_by_where_it_was_set_and_its_exact_text(
    persona, other, channel_id, other_channel
) -> None:
    """Greenflash segments on the name: the same text in the same place keeps one name; a
    different text, or another channel, is another persona."""
    name = persona_name(persona, channel_id)
    assert name == persona_name(persona, channel_id)
    assert name != DEFAULT_PERSONA
    assert str(channel_id) in name
    if other != persona:
        assert persona_name(other, channel_id) != name
    if other_channel != channel_id:
        assert persona_name(persona, other_channel) != name
    assert persona_name(None, channel_id) == DEFAULT_PERSONA


@given(st.text(min_size=1), st.none() | st.text(min_size=1, max_size=MAX_PERSONA_CHARS),
       st.sampled_from(["gpt-4o-mini", "gpt-4o"]))
def test_the_voice_is_the_model_and_prompt_in_effect(framing, persona, model) -> None:
    settings = ChannelSettings(persona, 7 if persona else None, model, "channel")
    voice = voice_of(settings, framing, 99)
    assert voice.model == model
    assert voice.system_prompt == settings.system_prompt(framing)
    assert (voice.persona == DEFAULT_PERSONA) is (persona is None)
    assert "\n\n".join(part.content for part in voice.parts) == voice.system_prompt
    assert voice.parts[0].content == framing
    assert [part.name for part in voice.parts] == (
        ["system_prompt"] if persona is None else ["system_prompt", "persona"])
    assert voice.prompt_id == prompt_id(99, persona, framing)


@given(st.text(min_size=1, max_size=MAX_PERSONA_CHARS), st.text(min_size=1, max_size=50),
       st.text(min_size=1), st.text(min_size=1), snowflakes, snowflakes)
def test_a_persona_is_one_prompt_per_guild_and_text_and_the_default_one_per_framing(
    persona, other, framing, other_framing, guild_id, other_guild
) -> None:
    """Greenflash versions and compares prompts by this id: the same persona text in a
    guild is one prompt whatever the framing, a changed text a new one; the default prompt
    is named by the framing alone."""
    named = prompt_id(guild_id, persona, framing)
    assert named == prompt_id(guild_id, persona, other_framing)
    assert named.startswith(f"persona:{guild_id}:")
    assert (prompt_id(guild_id, other, framing) == named) is (other == persona)
    assert (prompt_id(other_guild, persona, framing) == named) is (other_guild == guild_id)
    default = prompt_id(guild_id, None, framing)
    assert default == prompt_id(other_guild, None, framing)
    assert default.startswith("default:")
    assert (prompt_id(guild_id, None, other_framing) == default) is (other_framing == framing)
