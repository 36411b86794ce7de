"""Who may shape the assistant in a server, decided in one place for the admin commands
and the budget exemption alike."""

from __future__ import annotations

import discord


def is_admin(member: discord.abc.User, admin_role: str) -> bool:
    """Manage Server, or the role the operator names in ``ADMIN_ROLE`` (name or id). A DM
    author (a ``discord.User``, not a ``Member``) is nobody's admin."""
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.manage_guild:
        return True
    if not admin_role:
        return False
    return any(admin_role in (role.name, str(role.id)) for role in member.roles)
