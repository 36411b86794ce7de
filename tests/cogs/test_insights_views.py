"""The embeds ``/insights`` and ``/persona stats`` show, over generated figures: always within
Discord's embed limits, whatever Greenflash sends, and Greenflash's text never formats or
pings."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.insights import (
    Count,
    FlaggedConversation,
    Level,
    OrganizationFigures,
    Outcome,
    PromptFigures,
    Read,
)
from cogs.insights_views import (
    NOTHING_FLAGGED,
    inbox_embed,
    jump_link,
    overview_embed,
    personas_embed,
    plain,
)

GUILD = 851_845_528_051_384_320
snowflakes = st.integers(min_value=1, max_value=2**63 - 1)
texts = st.text(max_size=3000)
scores = st.floats(min_value=-1, max_value=1)
levels = st.builds(Level, st.text(max_size=300), scores)
counts = st.lists(st.builds(Count, texts, st.integers(0, 10**9)), max_size=60).map(tuple)
figures = st.builds(
    OrganizationFigures, conversations=st.integers(0, 10**9),
    quality_index=st.none() | st.floats(0, 1), rating=st.none() | st.floats(0, 10),
    sentiment=levels, frustration=levels, struggle=levels, topics=counts, keywords=counts,
    summary=st.none() | st.text(max_size=20_000),
)
flagged = st.builds(
    FlaggedConversation, conversation_id=st.text(max_size=40),
    channel_id=st.one_of(snowflakes.map(str), st.text(max_size=30)),
    topic=st.none() | texts, trigger=st.none() | texts,
    severity=st.none() | st.integers(1, 5),
    flagged_at=st.datetimes(min_value=datetime(2015, 1, 1), timezones=st.just(UTC)),
    message_count=st.integers(0, 10**6),
)
prompt_reads = st.one_of(
    st.builds(Read, st.just(Outcome.READ), st.builds(
        PromptFigures, st.text(max_size=80), st.integers(0, 10**9),
        st.none() | st.floats(0, 1), st.none() | st.text(max_size=60))),
    st.sampled_from([Read(outcome) for outcome in Outcome if outcome is not Outcome.READ]),
)


def within_discords_limits(embed: discord.Embed) -> None:
    assert len(embed) <= 6000
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert 0 < len(field.name or "") <= 256
        assert 0 < len(field.value or "") <= 1024


@given(texts, figures)
def test_the_overview_fits_one_embed(guild_name: str, shown: OrganizationFigures) -> None:
    within_discords_limits(overview_embed(guild_name, shown))


@given(st.lists(flagged, max_size=120))
def test_the_inbox_fits_one_embed_and_links_every_conversation_it_lists(
    items: list[FlaggedConversation],
) -> None:
    embed = inbox_embed(GUILD, items, title="Flagged")
    within_discords_limits(embed)
    listed = [item for item in items if item.channel_id.isdigit()]
    description = embed.description or ""
    if not listed:
        assert description == NOTHING_FLAGGED
        return
    lines = description.splitlines()
    shown = [line for line in lines if not line.startswith("…and ")]
    assert len(shown) >= 1
    for item, line in zip(listed, shown, strict=False):
        assert f"({jump_link(GUILD, item.channel_id)})" in line
    if len(shown) < len(listed):
        assert lines[-1] == f"…and {len(listed) - len(shown)} more"


@given(st.lists(st.tuples(st.text(min_size=1, max_size=1500), prompt_reads), max_size=9), texts)
def test_persona_stats_fit_one_embed(
    personas: list[tuple[str, Read[PromptFigures]]], guild_name: str
) -> None:
    embed = personas_embed(guild_name, personas)
    within_discords_limits(embed)
    assert len(embed.fields) == len(personas)


@given(texts, st.integers(1, 500))
def test_greenflash_text_is_one_inert_line_within_its_limit(text: str, limit: int) -> None:
    shown = plain(text, limit)
    assert len(shown) <= limit
    assert "\n" not in shown
    assert "@everyone" not in shown and "@here" not in shown
