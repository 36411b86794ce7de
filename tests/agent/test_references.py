"""Channel references, message links and ``before``: what people and models write, parsed
and bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.agent.references import (
    LINK_HOSTS,
    MAX_REFERENCE_CHARS,
    SNOWFLAKE_LIMIT,
    BadReference,
    BeforeRef,
    ChannelRef,
    MessageLink,
    format_message_link,
    parse_before,
    parse_channel_ref,
    parse_message_link,
    resolve_channel_name,
)

ids = st.integers(min_value=1, max_value=SNOWFLAKE_LIMIT - 1)
out_of_range = st.one_of(st.just(0), st.integers(SNOWFLAKE_LIMIT, 10**20 - 1))
links = st.builds(MessageLink, st.one_of(st.none(), ids), ids, ids)
names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=100
).filter(lambda n: not n.isdigit() and not n.startswith(("#", "<")) and n.casefold() != "here")


@given(ids)
def test_a_mention_and_a_bare_id_name_the_same_channel(channel_id: int) -> None:
    assert parse_channel_ref(f"<#{channel_id}>") == ChannelRef(id=channel_id)
    assert parse_channel_ref(f" {channel_id} ") == ChannelRef(id=channel_id)


@given(names, st.booleans())
def test_a_name_with_or_without_hash_is_matched_ignoring_case(name: str, hashed: bool) -> None:
    ref = parse_channel_ref(f"#{name}" if hashed else name)
    assert ref.name == name.casefold()
    shouted = name.upper() if name.upper().casefold() == ref.name else name
    assert resolve_channel_name(ref.name, [(1, "other"), (2, shouted), (3, name)]) == 2


def test_here_and_an_empty_reference_mean_the_asking_channel() -> None:
    assert parse_channel_ref("here").here
    assert parse_channel_ref(" HERE ").here
    assert parse_channel_ref("").here
    assert not parse_channel_ref("#here").here


def test_a_thread_is_found_by_its_own_name_and_a_channel_wins_a_tie() -> None:
    channels = [(10, "general"), (20, "General Thread"), (30, "general")]
    assert resolve_channel_name(parse_channel_ref("general thread").name or "", channels) == 20
    assert resolve_channel_name("general", channels) == 10
    assert resolve_channel_name("nowhere", channels) is None


def test_a_numeric_channel_name_is_reached_with_a_hash() -> None:
    assert parse_channel_ref("#2024") == ChannelRef(name="2024")


@given(links, st.sampled_from(LINK_HOSTS), st.sampled_from(["https", "http"]), st.booleans())
def test_a_formatted_link_parses_back_to_the_same_ids(
    link: MessageLink, host: str, scheme: str, bracketed: bool
) -> None:
    text = format_message_link(link, host).replace("https", scheme, 1)
    assert parse_message_link(f"<{text}>" if bracketed else text) == link
    assert parse_before(text) == BeforeRef(link.message_id, link)


@given(ids)
def test_before_takes_a_bare_message_id(message_id: int) -> None:
    assert parse_before(str(message_id)) == BeforeRef(message_id)


@given(out_of_range)
def test_ids_outside_a_snowflake_are_refused_everywhere(bad: int) -> None:
    for attempt in (
        lambda: parse_channel_ref(str(bad)),
        lambda: parse_channel_ref(f"<#{bad}>"),
        lambda: parse_before(str(bad)),
        lambda: parse_message_link(f"https://discord.com/channels/1/{bad}/2"),
        lambda: parse_message_link(f"https://discord.com/channels/@me/1/{bad}"),
    ):
        with pytest.raises(BadReference, match="not a Discord id"):
            attempt()


@pytest.mark.parametrize("text", [
    "https://discord.com/channels/1/2",
    "https://evil.example/channels/1/2/3",
    "https://discord.com.evil.example/channels/1/2/3",
    "https://cdn.discordapp.com/channels/1/2/3",
    "https://discord.com/channels/1/2/3?x=<#4>",
    "ftp://discord.com/channels/1/2/3",
    "https://discord.com/channels/1/2/123456789012345678901",
])
def test_what_is_not_a_message_link_is_refused(text: str) -> None:
    with pytest.raises(BadReference):
        parse_message_link(text)


@given(st.text(max_size=MAX_REFERENCE_CHARS + 20))
def test_arbitrary_text_parses_or_is_refused_never_crashes(text: str) -> None:
    for parse in (parse_channel_ref, parse_message_link, parse_before):
        try:
            parsed = parse(text)
        except BadReference as refusal:
            assert str(refusal)
        else:
            assert all(0 < value < SNOWFLAKE_LIMIT for value in ids_in(parsed))


def ids_in(parsed: ChannelRef | MessageLink | BeforeRef) -> list[int]:
    if isinstance(parsed, ChannelRef):
        return [] if parsed.id is None else [parsed.id]
    if isinstance(parsed, BeforeRef):
        return [parsed.message_id, *(ids_in(parsed.link) if parsed.link else [])]
    guild = [] if parsed.guild_id is None else [parsed.guild_id]
    return [*guild, parsed.channel_id, parsed.message_id]


@given(st.sampled_from(["1", "<#1", "https://discord.com/channels/", "a" * 7, "#"]),
       st.integers(1, 50_000))
def test_long_adversarial_input_is_refused_by_size_before_any_pattern(
    seed: str, repeats: int
) -> None:
    text = (seed * repeats)[: MAX_REFERENCE_CHARS + repeats]
    if len(text) <= MAX_REFERENCE_CHARS:
        text = text.ljust(MAX_REFERENCE_CHARS + 1, seed[-1])
    for parse in (parse_channel_ref, parse_message_link, parse_before):
        with pytest.raises(BadReference, match="too long"):
            parse(text)
