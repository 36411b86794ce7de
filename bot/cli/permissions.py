"""The Discord permissions the bot needs, declared once.

The invite URL (``python -m bot invite``) asks for exactly these, so what a server grants
and what the code uses cannot drift apart. Each one is here because a feature uses it:
seeing and reading channels (``classify``, the context window's history reads), answering
in channels and threads, replies as embeds-free text with link previews (embed links keeps
Discord's previews of links the model writes), long answers attached as a file, and the
feedback reactions.
"""

from __future__ import annotations

import discord

SCOPES = ("bot", "applications.commands")

BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
)


def invite_url(application_id: int) -> str:
    """The OAuth2 URL a server owner opens to add this bot with these permissions."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)
