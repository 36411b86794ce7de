"""Mention cleaning (``bot.conversation.triggers.named_mentions``): properties over
generated messages."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.conversation.triggers import named_mentions, visible

BOT_ID = 1_000
BOT_ROLE = 2_000
USERS = {11: "alice", 12: "bob"}
ROLES = {21: "mods", 22: "helpers"}
PING = re.compile(r"<@[!&]?\d+>")
"""What Discord renders as a user or role mention (Discord docs, "Message Formatting")."""


def clean(content: str) -> str:
    return visible(named_mentions(
        content, users=USERS, roles=ROLES, removed={BOT_ID}, removed_roles={BOT_ROLE},
        channel_name=lambda channel_id: f"chan{channel_id}",
    ))


ids = st.sampled_from([BOT_ID, 11, 12, 99])
role_ids = st.sampled_from([BOT_ROLE, 21, 22, 98])
mention = st.one_of(
    ids.map(lambda user_id: f"<@{user_id}>"),
    ids.map(lambda user_id: f"<@!{user_id}>"),
    role_ids.map(lambda role_id: f"<@&{role_id}>"),
)
plain = st.text(alphabet=st.characters(blacklist_characters="<>"), max_size=20)
own = st.sampled_from([f"<@{BOT_ID}>", f"<@!{BOT_ID}>", f"<@&{BOT_ROLE}>"])
tokens = st.lists(st.one_of(plain, mention, own), max_size=12)
# Any text at all, biased to the characters mentions are made of.
raw = st.text(alphabet=st.sampled_from(list("<@!&#>0123456789 ab")) | st.characters(),
              max_size=80)


@given(raw)
def test_nothing_that_could_ping_survives(content: str) -> None:
    assert not PING.search(named_mentions(
        content, users=USERS, roles=ROLES, removed={BOT_ID}, removed_roles={BOT_ROLE},
        channel_name=str,
    ))


glued = st.builds(lambda inner, user_id: f"<{inner}@{user_id}>", own, st.sampled_from([11, 99]))


@given(st.lists(st.one_of(mention, own, glued, st.sampled_from(["<", ">", "@", "&", "1"])),
                max_size=15))
def test_mentions_glued_together_cannot_form_a_new_ping(parts: list[str]) -> None:
    assert not PING.search(clean("".join(parts)))


@given(tokens)
def test_the_bots_own_mentions_count_for_nothing(parts: list[str]) -> None:
    without = [part for part in parts if part not in {f"<@{BOT_ID}>", f"<@!{BOT_ID}>",
                                                      f"<@&{BOT_ROLE}>"}]
    assert clean("".join(parts)) == clean("".join(without))


@given(tokens)
def test_other_mentions_are_named(parts: list[str]) -> None:
    text = clean(" ".join(parts))
    for user_id, name in USERS.items():
        if f"<@{user_id}>" in parts or f"<@!{user_id}>" in parts:
            assert f"@{name}" in text
    for role_id, name in ROLES.items():
        if f"<@&{role_id}>" in parts:
            assert f"@{name}" in text
    if "<@99>" in parts or "<@!99>" in parts:
        assert "@someone" in text
    if "<@&98>" in parts:
        assert "@role" in text


@given(plain)
def test_plain_text_is_only_stripped(content: str) -> None:
    assert clean(content) == visible(content)


def test_examples() -> None:
    assert clean(f"<@{BOT_ID}> what is <@11> up to?") == "what is @alice up to?"
    assert clean(f"<@&{BOT_ROLE}> ask <@&21>") == "ask @mods"
    assert clean(f"<<@{BOT_ID}>@12>") == "< @12>"
    assert clean("see <#5>") == "see #chan5"
