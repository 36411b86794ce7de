"""The Discord permissions the bot needs, declared once.

The invite URL (``python -m bot invite``) asks for exactly these, so what a server grants
and what the code uses cannot drift apart. Each one is here because a feature uses it:
seeing and reading channels (``classify``, the context window's history reads), answering
in channels and threads, replies as embeds-free text with link previews (embed links keeps
Discord's previews of links the model writes), long answers attached as a file, the
feedback reactions, and a thread per question where a channel wants one
(:data:`bot.replies.threads.THREAD_PERMISSIONS`).
"""

from __future__ import annotations

import discord

from bot.replies.threads import THREAD_PERMISSIONS

SCOPES = ("bot", "applications.commands")

BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
) | THREAD_PERMISSIONS


def missing(granted: discord.Permissions, wanted: discord.Permissions) -> list[str]:
    """The ``wanted`` permissions ``granted`` lacks, by discord.py's names."""
    return [name for name, needed in wanted if needed and not getattr(granted, name)]


async def channel_permissions(client: discord.Client, channel_id: int) -> discord.Permissions:
    """The bot's permissions in a guild channel, from REST reads alone (the doctor has no
    gateway cache): the guild's roles, the bot's member roles, the channel's overwrites."""
    found = await client.fetch_channel(channel_id)
    if not isinstance(found, discord.abc.GuildChannel | discord.Thread) or client.user is None:
        raise TypeError(f"channel {channel_id} is not in a guild")
    guild = await client.fetch_guild(found.guild.id)
    channel = await guild.fetch_channel(channel_id)
    member = await guild.fetch_member(client.user.id)
    return channel.permissions_for(member)


def invite_url(application_id: int) -> str:
    """The OAuth2 URL a server owner opens to add this bot with these permissions."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)
