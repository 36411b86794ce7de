"""Reading the channel and message references that people and models write.

The tools' arguments come from a model, which copies them from what people typed, so
anything may arrive here. Every parser refuses input longer than :data:`MAX_REFERENCE_CHARS`
before a regular expression sees it, and each expression is a flat sequence of bounded
character classes (no nested or unbounded quantifiers), so the work per call is linear in
a length that is itself capped.

Ids are Discord snowflakes: unsigned 64-bit integers written as at most 20 decimal digits
(Discord developer docs, Reference, "Snowflakes"). Zero and anything at or above 2**64 are
refused, so an id that reaches the API is one Discord could have issued.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_REFERENCE_CHARS = 200
"""Longer than any mention, id, channel name (Discord caps those at 100) or message link."""
MAX_CHANNEL_NAME = 100
SNOWFLAKE_LIMIT = 2**64
HERE = "here"
LINK_HOSTS = ("discord.com", "ptb.discord.com", "canary.discord.com", "discordapp.com")
"""The hosts whose ``/channels/...`` URLs Discord's clients produce ("Copy Message Link")."""

_DIGITS = r"[0-9]{1,20}"
_MENTION = re.compile(rf"<#({_DIGITS})>")
_ID = re.compile(_DIGITS)
_LINK = re.compile(
    rf"https?://(?:ptb\.|canary\.)?discord(?:app)?\.com/channels/({_DIGITS}|@me)/"
    rf"({_DIGITS})/({_DIGITS})/?",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadReference(ValueError):
    """A reference that cannot name anything; its message is a sentence for the model."""


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """What a ``channel`` argument names: an id, a name (case-folded, without ``#``) or
    the channel the question was asked in (neither)."""

    id: int | None = None
    name: str | None = None

    @property
    def here(self) -> bool:
        return self.id is None and self.name is None


@dataclass(frozen=True, slots=True)
class MessageLink:
    """A message link's ids; ``guild_id`` is None for a DM (``@me``)."""

    guild_id: int | None
    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class BeforeRef:
    """A ``before`` argument: the message id, and the link when one was given, so the
    caller can refuse a link into another channel."""

    message_id: int
    link: MessageLink | None = None


def _bounded(text: str, what: str) -> str:
    if len(text) > MAX_REFERENCE_CHARS:
        raise BadReference(f"that {what} is too long to be one ({len(text)} characters)")
    return text.strip()


def _snowflake(digits: str) -> int:
    value = int(digits)
    if not 0 < value < SNOWFLAKE_LIMIT:
        raise BadReference(f"{digits} is not a Discord id")
    return value


def parse_channel_ref(text: str) -> ChannelRef:
    """``<#123>``, ``123``, ``general``, ``#general`` or ``here``.

    All digits is an id; a channel whose name is all digits is reached as ``#2024``.
    """
    text = _bounded(text, "channel reference")
    if not text or text.casefold() == HERE:
        return ChannelRef()
    if (mention := _MENTION.fullmatch(text)) is not None:
        return ChannelRef(id=_snowflake(mention[1]))
    if _ID.fullmatch(text) is not None:
        return ChannelRef(id=_snowflake(text))
    if text.isdigit():
        raise BadReference(f"{text} is not a Discord id")
    name = text.removeprefix("#").strip()
    if not name or len(name) > MAX_CHANNEL_NAME or _CONTROL.search(name):
        raise BadReference(f"{text!r} is not a channel mention, id or name")
    return ChannelRef(name=name.casefold())


def resolve_channel_name(name: str, channels: Iterable[tuple[int, str]]) -> int | None:
    """The id of the first of ``channels`` (id, name) called ``name``, ignoring case.

    The caller lists channels before threads, so a channel wins over a thread of the same
    name; threads are still reachable by their own name.
    """
    wanted = name.casefold()
    return next((cid for cid, cname in channels if cname.casefold() == wanted), None)


def parse_message_link(text: str) -> MessageLink:
    """A ``https://discord.com/channels/<guild|@me>/<channel>/<message>`` link (also on
    ``ptb.``/``canary.`` and ``discordapp.com``), optionally in ``<...>`` as people paste
    links to suppress their embed."""
    text = _bounded(text, "link").removeprefix("<").removesuffix(">")
    match = _LINK.fullmatch(text)
    if match is None:
        raise BadReference("that is not a Discord message link")
    guild = None if match[1].casefold() == "@me" else _snowflake(match[1])
    return MessageLink(guild, _snowflake(match[2]), _snowflake(match[3]))


def parse_before(text: str) -> BeforeRef:
    """A message id or a message link."""
    text = _bounded(text, "message reference")
    if _ID.fullmatch(text) is not None:
        return BeforeRef(_snowflake(text))
    link = parse_message_link(text)
    return BeforeRef(link.message_id, link)


def format_message_link(link: MessageLink, host: str = LINK_HOSTS[0]) -> str:
    """The link Discord's "Copy Message Link" gives for these ids."""
    guild = "@me" if link.guild_id is None else str(link.guild_id)
    return f"https://{host}/channels/{guild}/{link.channel_id}/{link.message_id}"
