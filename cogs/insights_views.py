"""What ``/insights`` and ``/persona stats`` show: Greenflash's figures as embeds.

Pure functions of the reader's plain values, so their bounds can be checked over generated
figures. Every text that comes from Greenflash (topics, keywords, the summary, a persona's
text) is cut to Discord's embed limits (developer docs, Resources → Message → "Embed
Limits": title 256, description 4096, 25 fields, field name 256 and value 1024, 6000 in
all) and stripped of markdown, so a topic cannot format or link the admin's view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import discord

from bot.analytics.insights import (
    SENTENCES,
    Count,
    FlaggedConversation,
    Level,
    OrganizationFigures,
    Outcome,
    PromptFigures,
    Read,
)

GREENFLASH_APP = "https://www.greenflash.ai/app"
COLOUR = discord.Colour.green()
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_SUMMARY = 1500
MAX_COUNTS = 8
MAX_NAME = 60
NOTHING_FLAGGED = "Nothing is waiting for review on this server."


def clip(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int) -> str:
    """Text from outside as inert embed text: one line, no markdown, no mention syntax,
    at most ``limit`` characters."""
    flat = " ".join(text.split())
    return clip(discord.utils.escape_mentions(discord.utils.escape_markdown(flat)), limit)


def jump_link(guild_id: int | str, channel_id: int | str) -> str:
    """Discord's link to a channel or thread (the conversation Greenflash flagged)."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}"


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _level(level: Level) -> str:
    return f"{plain(level.label, 40)} ({level.score:+.2f})"


def _counts(counts: Sequence[Count]) -> str:
    shown = [f"{plain(count.name, MAX_NAME)} ({count.count})" for count in counts[:MAX_COUNTS]]
    return clip(", ".join(shown), MAX_FIELD_VALUE) or "—"


def overview_embed(guild_name: str, figures: OrganizationFigures) -> discord.Embed:
    """The server's figures; the topics, keywords and summary when Greenflash sent them
    (insights mode)."""
    embed = discord.Embed(
        title=clip(f"Greenflash insights: {guild_name}", MAX_TITLE),
        url=GREENFLASH_APP,
        colour=COLOUR,
        description=clip(figures.summary, MAX_SUMMARY) if figures.summary else None,
    )
    embed.add_field(name="Conversations", value=str(figures.conversations))
    embed.add_field(name="Quality index", value=_number(figures.quality_index))
    embed.add_field(name="Average rating", value=_number(figures.rating, 1))
    embed.add_field(name="Average sentiment", value=_level(figures.sentiment))
    embed.add_field(name="Frustration", value=_level(figures.frustration))
    embed.add_field(name="Struggle", value=_level(figures.struggle))
    if figures.topics:
        embed.add_field(name="Top topics", value=_counts(figures.topics), inline=False)
    if figures.keywords:
        embed.add_field(name="Top keywords", value=_counts(figures.keywords), inline=False)
    embed.set_footer(text="From Greenflash's analysis of this server's conversations.")
    return embed


def flagged_line(guild_id: int, item: FlaggedConversation) -> str:
    severity = "severity ?" if item.severity is None else f"severity {item.severity}"
    trigger = plain(item.trigger or "flagged", 40)
    topic = f" · {plain(item.topic, MAX_NAME)}" if item.topic else ""
    when = int(item.flagged_at.timestamp())
    return (f"**{severity}** · {trigger} · <#{item.channel_id}> "
            f"[jump]({jump_link(guild_id, item.channel_id)}){topic} · <t:{when}:R>")


def inbox_embed(
    guild_id: int, items: Sequence[FlaggedConversation], *, title: str
) -> discord.Embed:
    """The flagged conversations, one line each with its jump link, as many as fit one
    embed's description; the rest counted. A conversation whose id is not a channel's
    (not one this bot logged) has nowhere to jump to and is left out."""
    items = [item for item in items if item.channel_id.isdigit()]
    lines: list[str] = []
    used = 0
    for index, item in enumerate(items):
        line = flagged_line(guild_id, item)
        rest = len(items) - index - 1
        tail = len(f"\n…and {rest} more") if rest else 0
        if used + len(line) + 1 + tail > MAX_DESCRIPTION:
            lines.append(f"…and {len(items) - index} more")
            break
        lines.append(line)
        used += len(line) + 1
    embed = discord.Embed(
        title=title, url=GREENFLASH_APP, colour=COLOUR,
        description="\n".join(lines) or NOTHING_FLAGGED,
    )
    embed.set_footer(text="Flagged by Greenflash; review them there.")
    return embed


def _when(moment: str | None) -> str:
    if moment is None:
        return "never"
    try:
        parsed = dt.datetime.fromisoformat(moment)
    except ValueError:
        return plain(moment, 40)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return f"<t:{int(parsed.timestamp())}:R>"


def persona_field(read: Read[PromptFigures]) -> str:
    figures = read.value
    if figures is None:
        if read.outcome is Outcome.NOTHING_YET:
            return "No conversations yet."
        return clip(read.sentence or SENTENCES[Outcome.FAILED], MAX_FIELD_VALUE)
    return (f"Conversations: {figures.conversations}\n"
            f"Quality index: {_number(figures.quality_index)}\n"
            f"Last used: {_when(figures.last_used_at)}")


def personas_embed(
    guild_name: str, personas: Sequence[tuple[str, Read[PromptFigures]]]
) -> discord.Embed:
    """Each persona (its text, cut short) beside its figures, newest set first."""
    embed = discord.Embed(
        title=clip(f"Personas on {guild_name}", MAX_TITLE), url=GREENFLASH_APP, colour=COLOUR,
        description="Greenflash's figures for each persona this server's admins have set.",
    )
    for text, read in personas:
        embed.add_field(name=plain(text, MAX_NAME) or "(blank)", value=persona_field(read))
    return embed
