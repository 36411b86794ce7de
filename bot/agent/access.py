"""Who may read what through the bot: nobody reads through it what they cannot read.

A reading tool acts for the person who asked. A channel, thread or message is readable only
when **both** the asker and the bot (``guild.me``) hold ``view_channel`` and
``read_message_history`` there. The permission arithmetic is discord.py's
(``GuildChannel.permissions_for``, ``Thread.permissions_for``), which implements the order
Discord documents (developer docs, Topics, "Permissions", "Permission Overwrites"):

    1. Base permissions given to @everyone are applied at a guild level
    2. Permissions allowed to a user by their roles are applied at a guild level
    3. Overwrites that deny permissions for @everyone are applied at a channel level
    4. Overwrites that allow permissions for @everyone are applied at a channel level
    5. Overwrites that deny permissions for specific roles are applied at a channel level
    6. Overwrites that allow permissions for specific roles are applied at a channel level
    7. Member-specific overwrites that deny permissions are applied at a channel level
    8. Member-specific overwrites that allow permissions are applied at a channel level

with the guild owner and ``administrator`` holding everything, and a thread taking its
parent's permissions. What discord.py does not decide is decided here:

* a private thread is readable only by its members, asked of Discord
  (``Thread.fetch_member`` answers 404 for a non-member; the member cache is not complete
  without the members intent); a public thread follows its parent;
* nothing crosses guilds: another guild's channel or link is refused before it is fetched;
* in a DM, only that DM.

The asker must be the ``discord.Member`` that came with the message or interaction that
asked (the bot runs without the members intent, so it carries the roles). The result is a
value the model is told: :class:`Allowed`, or :class:`Refused` with a short sentence; the
refused text itself never reaches the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.agent.references import MessageLink
from bot.runtime.uncancelled import uncancelled

Channel = (
    discord.abc.GuildChannel | discord.Thread | discord.DMChannel | discord.GroupChannel
    | discord.PartialMessageable
)


@dataclass(frozen=True, slots=True)
class Allowed:
    pass


@dataclass(frozen=True, slots=True)
class Refused:
    """Why not, as a sentence the model can pass on ("you can't see #staff")."""

    reason: str


Decision = Allowed | Refused

ALLOWED = Allowed()
ONLY_THIS_DM = Refused("in a direct message I can only read this conversation")
OTHER_SERVER = Refused("that is in another server; I only read this server's channels")
UNKNOWN_ASKER = Refused("I can't tell which channels you can see here")


def link_in_scope(link: MessageLink, asked_in: Channel) -> Decision:
    """Whether a link may be followed at all from where the question was asked, decided
    before anything is fetched: same guild, or in a DM the same DM."""
    guild = getattr(asked_in, "guild", None)
    if guild is None:
        same_dm = link.guild_id is None and link.channel_id == asked_in.id
        return ALLOWED if same_dm else ONLY_THIS_DM
    return ALLOWED if link.guild_id == guild.id else OTHER_SERVER


async def can_read(asker: discord.abc.User, target: Channel, *, asked_in: Channel) -> Decision:
    """Whether ``asker``, asking in ``asked_in``, may have the bot read ``target``."""
    asked_guild = getattr(asked_in, "guild", None)
    if asked_guild is None:
        return ALLOWED if target.id == asked_in.id else ONLY_THIS_DM
    if not isinstance(target, discord.abc.GuildChannel | discord.Thread):
        return OTHER_SERVER
    if target.guild.id != asked_guild.id:
        return OTHER_SERVER
    if not isinstance(asker, discord.Member) or asker.guild.id != target.guild.id:
        return UNKNOWN_ASKER
    for who, reader in (("you", asker), ("I", target.guild.me)):
        refusal = _permission_refusal(who, reader, target)
        if refusal is not None:
            return refusal
    if isinstance(target, discord.Thread) and target.type is discord.ChannelType.private_thread:
        for who, user_id in (("you are", asker.id), ("I am", target.guild.me.id)):
            refusal = await _membership_refusal(who, user_id, target)
            if refusal is not None:
                return refusal
    return ALLOWED


def _permission_refusal(
    who: str, member: discord.Member, target: discord.abc.GuildChannel | discord.Thread
) -> Refused | None:
    permissions = target.permissions_for(member)
    if not permissions.view_channel:
        return Refused(f"{who} can't see #{target.name}")
    if not permissions.read_message_history:
        return Refused(f"{who} can't read the message history of #{target.name}")
    return None


async def _membership_refusal(who: str, user_id: int, thread: discord.Thread) -> Refused | None:
    """Asked of Discord, not the cache: the cache only knows members it saw join.

    The request runs through :func:`uncancelled`, so a tool timeout never cancels it.
    """
    try:
        await uncancelled(thread.fetch_member(user_id))
    except discord.NotFound:
        return Refused(f"{who} not in the private thread #{thread.name}")
    except discord.HTTPException:
        return Refused(f"I couldn't check who is in the private thread #{thread.name}")
    return None
