"""The seeded world of the Discord stand-in: ids, users, guilds, channels, stored messages.

Everything here is plain data in Discord's JSON shapes (API v10), with snowflakes as strings
on the wire and as ``int`` constants for tests. The stand-in server
(:mod:`tests.standins.discord_server`) owns one :class:`World`; its gateway and REST halves
read and mutate it.

Layout::

    GUILD_A "Alpha Guild" (owner ALICE)          GUILD_B "Beta Guild" (owner BOB)
      shard 0 of 2                                 shard 1 of 2
      #general   GENERAL_CHANNEL                   #beta   BETA_CHANNEL
        └ "general thread"   THREAD
      #ai-chat   CHAT_CHANNEL
        └ "ai thread"        CHAT_THREAD
    members: ALICE, BOB, OTHER_BOT, the bot      members: ALICE, BOB, the bot

    DMs: DM_ALICE, DM_BOB, DM_CAROL (CAROL shares no guild with the bot)

Message visibility without the Message Content intent follows Discord: ``content``,
``embeds``, ``attachments``, ``components`` and ``poll`` are blanked unless the message is in
a DM, is by the bot, or mentions the bot (see :func:`content_visible`).
"""

from __future__ import annotations

import copy
import datetime
import re
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

BOT_ID = 1_085_131_932_938_928_128
APPLICATION_ID = BOT_ID
OWNER_ID = 573_555_348_057_751_552
GUILD_A = 851_845_528_051_384_320
GUILD_B = 933_453_536_094_715_904
ALICE_ID = 507_829_970_622_611_456
BOB_ID = 602_862_417_600_446_464
CAROL_ID = 683_252_121_621_102_592
OTHER_BOT_ID = 750_281_083_689_500_672
GENERAL_CHANNEL = 851_845_530_937_065_472
CHAT_CHANNEL = 851_848_618_599_120_896
THREAD = 1_158_825_797_277_057_024
CHAT_THREAD = 1_170_807_246_351_892_480
BETA_CHANNEL = 933_453_537_218_789_376
DM_ALICE = 1_091_693_447_217_283_072
DM_BOB = 1_092_055_835_087_077_376
DM_CAROL = 1_092_418_222_956_871_680
BOT_ROLE_A = 1_085_487_552_921_731_072
BOT_ROLE_B = 1_085_487_557_116_035_072
STAFF_ROLE = 851_846_112_401_526_784
STAFF_CHANNEL = 851_846_301_577_424_896
PRIVATE_THREAD = 1_171_240_013_508_149_248
DAVE_ID = 704_912_573_230_809_088

BOT_TOKEN = "MTA4NTEzMTkzMjkzODkyODEyOA.GsTand.InTokenForTheLocalDiscordStandIn00000"

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Application flags.
APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
APP_FLAG_APPLICATION_COMMAND_BADGE = 1 << 23

# Message flags.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Permissions.
_PERMISSION_BITS = {
    "CREATE_INSTANT_INVITE": 0,
    "ADD_REACTIONS": 6,
    "VIEW_CHANNEL": 10,
    "SEND_MESSAGES": 11,
    "EMBED_LINKS": 14,
    "ATTACH_FILES": 15,
    "READ_MESSAGE_HISTORY": 16,
    "USE_EXTERNAL_EMOJIS": 18,
    "CONNECT": 20,
    "SPEAK": 21,
    "CHANGE_NICKNAME": 26,
    "USE_APPLICATION_COMMANDS": 31,
    "CREATE_PUBLIC_THREADS": 35,
    "SEND_MESSAGES_IN_THREADS": 38,
}
EVERYONE_PERMISSIONS = sum(1 << bit for bit in _PERMISSION_BITS.values())
CREATE_PUBLIC_THREADS = 1 << _PERMISSION_BITS["CREATE_PUBLIC_THREADS"]
SEND_MESSAGES_IN_THREADS = 1 << _PERMISSION_BITS["SEND_MESSAGES_IN_THREADS"]
THREAD_ARCHIVE_MINUTES = (60, 1440, 4320, 10080)
BOT_ROLE_PERMISSIONS = EVERYONE_PERMISSIONS
ADMINISTRATOR = 1 << 3

_MENTION_USER = re.compile(r"<@!?(\d{15,21})>")
_MENTION_ROLE = re.compile(r"<@&(\d{15,21})>")


def iso(moment: datetime.datetime | None = None) -> str:
    """An ISO 8601 timestamp the way Discord writes them (``+00:00``, microseconds)."""
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.isoformat(timespec="microseconds")


def snowflake_time(snowflake: int) -> datetime.datetime:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)


class Snowflakes:
    """Strictly increasing snowflakes stamped with the current time (worker 3, process 7)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (3 << 17) | (7 << 12)
        self._last = max(candidate, self._last + 1)
        return self._last


def user_dict(
    user_id: int,
    username: str,
    *,
    global_name: str | None = None,
    bot: bool = False,
    discriminator: str = "0",
) -> dict[str, Any]:
    """A public user object as Discord sends it (new-style usernames: discriminator "0")."""
    return {
        "id": str(user_id),
        "username": username,
        "global_name": global_name,
        "discriminator": discriminator,
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
        "collectibles": None,
    }


BOT_USER = user_dict(BOT_ID, "standin-bot", bot=True, discriminator="4125")
BOT_SELF: dict[str, Any] = {
    **BOT_USER, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US",
}
"""The bot as ``GET /users/@me`` and READY describe it (with the private fields)."""
ALICE = user_dict(ALICE_ID, "alice", global_name="Alice")
BOB = user_dict(BOB_ID, "bob", global_name="Bob")
CAROL = user_dict(CAROL_ID, "carol", global_name="Carol")
OTHER_BOT = user_dict(OTHER_BOT_ID, "other-bot", bot=True, discriminator="7001")
OWNER = user_dict(OWNER_ID, "app-owner", global_name="App Owner")
DAVE = user_dict(DAVE_ID, "dave", global_name="Dave")


def webhook_author(
    webhook_id: int, name: str = "Captain Hook", *, bot: bool = True
) -> dict[str, Any]:
    """The author Discord puts on a message sent through an (incoming) webhook.

    Discord's Message Object docs promise only a webhook user (its id, username and avatar)
    with ``webhook_id`` set on the message; ``bot: true`` is what Discord sends today but is
    not documented, so ``bot=False`` leaves it out and only ``webhook_id`` tells it apart.
    """
    author: dict[str, Any] = {
        "id": str(webhook_id),
        "username": name,
        "global_name": None,
        "discriminator": "0000",
        "avatar": None,
    }
    if bot:
        author["bot"] = True
    return author


def parse_emoji(emoji: str) -> dict[str, Any]:
    """``"👍"`` → ``{"id": None, "name": "👍"}``; ``"name:id"`` → a custom emoji."""
    name, _, emoji_id = emoji.removeprefix("<").removesuffix(">").removeprefix(":").rpartition(":")
    if name and emoji_id.isdigit():
        return {"id": emoji_id, "name": name.removeprefix("a:"), "animated": name.startswith("a:")}
    return {"id": None, "name": emoji}


def emoji_key(emoji: dict[str, Any]) -> str:
    return emoji["id"] or emoji["name"]


@dataclass
class GuildInfo:
    id: int
    name: str
    owner_id: int
    bot_role_id: int
    channel_ids: list[int]
    thread_ids: list[int]
    members: dict[int, dict[str, Any]] = field(default_factory=dict)
    joined_at: str = ""


@dataclass
class Reaction:
    emoji: dict[str, Any]
    users: list[int] = field(default_factory=list)


class World:
    """The mutable state behind the stand-in: users, guilds, channels, messages, reactions."""

    def __init__(self, *, bot_user: dict[str, Any] = BOT_USER) -> None:
        self.bot_user = bot_user
        self.bot_self = {**BOT_SELF, **bot_user}
        self.bot_id = int(bot_user["id"])
        self.snowflakes = Snowflakes()
        self.users: dict[int, dict[str, Any]] = {
            int(user["id"]): user for user in (bot_user, ALICE, BOB, CAROL, OTHER_BOT, OWNER)
        }
        self.guilds: dict[int, GuildInfo] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user id → DM channel id
        self.messages: dict[int, list[dict[str, Any]]] = {}  # channel id → oldest first
        self.message_index: dict[int, dict[str, Any]] = {}  # every stored message, by id
        self.ephemeral: dict[int, dict[str, Any]] = {}  # interaction-only messages, by id
        self.reactions: dict[int, dict[str, Reaction]] = {}  # message id → emoji key → users
        self.extra_roles: dict[int, list[dict[str, Any]]] = {}  # guild id → roles past the two
        self.thread_members: dict[int, set[int]] = {}  # private thread id → member user ids
        self._seed()

    # -- seeding ---------------------------------------------------------------------------

    def _seed(self) -> None:
        self.add_guild(
            GUILD_A, "Alpha Guild", owner_id=ALICE_ID, bot_role_id=BOT_ROLE_A,
            channels=[
                (GENERAL_CHANNEL, "general", "Anything goes."),
                (CHAT_CHANNEL, "ai-chat", "Talk to the bot."),
            ],
            threads=[
                (THREAD, "general thread", GENERAL_CHANNEL, ALICE_ID),
                (CHAT_THREAD, "ai thread", CHAT_CHANNEL, BOB_ID),
            ],
            member_ids=[ALICE_ID, BOB_ID, OTHER_BOT_ID],
        )
        self.add_guild(
            GUILD_B, "Beta Guild", owner_id=BOB_ID, bot_role_id=BOT_ROLE_B,
            channels=[(BETA_CHANNEL, "beta", None)], threads=[], member_ids=[ALICE_ID, BOB_ID],
        )
        for user_id, channel_id in ((ALICE_ID, DM_ALICE), (BOB_ID, DM_BOB), (CAROL_ID, DM_CAROL)):
            self._add_dm(user_id, channel_id)

    def add_guild(
        self,
        guild_id: int,
        name: str,
        *,
        owner_id: int,
        bot_role_id: int,
        channels: list[tuple[int, str, str | None]],
        threads: list[tuple[int, str, int, int]],
        member_ids: list[int],
    ) -> None:
        """A guild the bot is in; add it before the bot connects so READY announces it."""
        guild = GuildInfo(
            guild_id, name, owner_id, bot_role_id,
            channel_ids=[c[0] for c in channels], thread_ids=[t[0] for t in threads],
            joined_at=iso(snowflake_time(bot_role_id)),
        )
        self.guilds[guild_id] = guild
        for position, (channel_id, channel_name, topic) in enumerate(channels):
            self.channels[channel_id] = {
                "id": str(channel_id), "type": 0, "guild_id": str(guild_id),
                "name": channel_name, "position": position, "permission_overwrites": [],
                "topic": topic, "nsfw": False, "last_message_id": None,
                "rate_limit_per_user": 0, "parent_id": None, "flags": 0,
                "default_auto_archive_duration": 1440, "default_thread_rate_limit_per_user": 0,
            }
            self.messages[channel_id] = []
        for thread_id, thread_name, parent_id, thread_owner in threads:
            created = iso(snowflake_time(thread_id))
            self.channels[thread_id] = {
                "id": str(thread_id), "type": 11, "guild_id": str(guild_id),
                "parent_id": str(parent_id), "owner_id": str(thread_owner),
                "name": thread_name, "last_message_id": None, "message_count": 0,
                "member_count": 2, "rate_limit_per_user": 0, "flags": 0,
                "total_message_sent": 0,
                "thread_metadata": {
                    "archived": False, "auto_archive_duration": 1440, "locked": False,
                    "archive_timestamp": created, "create_timestamp": created,
                },
            }
            self.messages[thread_id] = []
        for user_id in [*member_ids, self.bot_id]:
            roles = [str(bot_role_id)] if user_id == self.bot_id else []
            guild.members[user_id] = {
                "user": self.users[user_id], "nick": None, "avatar": None, "banner": None,
                "roles": roles, "joined_at": iso(snowflake_time(guild_id)),
                "premium_since": None, "deaf": False, "mute": False, "flags": 0,
                "pending": False, "communication_disabled_until": None,
            }

    def add_private_places(self) -> None:
        """Opt-in, before the bot connects: what "who may read what" needs in GUILD_A.

        * ``STAFF_ROLE`` ("staff", no permissions of its own) held by DAVE, a new member;
        * ``#staff`` (``STAFF_CHANNEL``): an overwrite denying @everyone ``VIEW_CHANNEL``
          and ones allowing it to ``STAFF_ROLE`` and to the bot's role, the way Discord's
          client makes a private channel (Permissions, "Permission Overwrites");
        * "private plans" (``PRIVATE_THREAD``), a private thread (type 12) in #general whose
          members are ALICE and the bot (Threads, "Private threads": visible to their
          members and to those who can manage threads).
        """
        guild = self.guilds[GUILD_A]
        view = str(1 << _PERMISSION_BITS["VIEW_CHANNEL"])
        self.users[DAVE_ID] = DAVE
        self.extra_roles[GUILD_A] = [{
            **self.roles(GUILD_A)[0], "id": str(STAFF_ROLE), "name": "staff", "position": 2,
            "permissions": "0",
        }]
        guild.members[DAVE_ID] = {
            **copy.deepcopy(guild.members[BOB_ID]), "user": DAVE, "roles": [str(STAFF_ROLE)],
        }
        self.channels[STAFF_CHANNEL] = {
            **copy.deepcopy(self.channels[GENERAL_CHANNEL]), "id": str(STAFF_CHANNEL),
            "name": "staff", "position": len(guild.channel_ids), "topic": "Staff only.",
            "last_message_id": None,
            "permission_overwrites": [
                {"id": str(GUILD_A), "type": 0, "allow": "0", "deny": view},
                {"id": str(STAFF_ROLE), "type": 0, "allow": view, "deny": "0"},
                {"id": str(guild.bot_role_id), "type": 0, "allow": view, "deny": "0"},
            ],
        }
        created = iso(snowflake_time(PRIVATE_THREAD))
        self.channels[PRIVATE_THREAD] = {
            **copy.deepcopy(self.channels[THREAD]), "id": str(PRIVATE_THREAD), "type": 12,
            "name": "private plans", "owner_id": str(ALICE_ID), "last_message_id": None,
            "message_count": 0, "total_message_sent": 0,
            "thread_metadata": {
                "archived": False, "auto_archive_duration": 1440, "locked": False,
                "archive_timestamp": created, "create_timestamp": created, "invitable": False,
            },
        }
        guild.channel_ids.append(STAFF_CHANNEL)
        guild.thread_ids.append(PRIVATE_THREAD)
        self.messages[STAFF_CHANNEL], self.messages[PRIVATE_THREAD] = [], []
        self.thread_members[PRIVATE_THREAD] = {ALICE_ID, self.bot_id}

    def thread_member(self, thread_id: int, user_id: int) -> dict[str, Any] | None:
        """A thread member object (Threads, "Thread Member Object"), or None for a user who
        is not a member, for which ``GET /channels/{id}/thread-members/{user}`` is 404."""
        if user_id not in self.thread_members.get(thread_id, set()):
            return None
        return {"id": str(thread_id), "user_id": str(user_id),
                "join_timestamp": iso(snowflake_time(thread_id)), "flags": 0}

    def _add_dm(self, user_id: int, channel_id: int) -> dict[str, Any]:
        channel = {
            "id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0,
            "recipients": [self.users[user_id]],
        }
        self.channels[channel_id] = channel
        self.dm_channels[user_id] = channel_id
        self.messages[channel_id] = []
        return channel

    def dm_channel_for(self, user_id: int) -> dict[str, Any]:
        """The DM channel with a user, created on first use like ``POST /users/@me/channels``."""
        if user_id in self.dm_channels:
            return self.channels[self.dm_channels[user_id]]
        return self._add_dm(user_id, self.snowflakes.next())

    # -- lookups ---------------------------------------------------------------------------

    def guild_of(self, channel_id: int) -> int | None:
        channel = self.channels.get(channel_id)
        if channel is None or "guild_id" not in channel:
            return None
        return int(channel["guild_id"])

    def is_dm(self, channel_id: int) -> bool:
        channel = self.channels.get(channel_id)
        return channel is not None and channel["type"] == 1

    def dm_recipient(self, channel_id: int) -> dict[str, Any] | None:
        channel = self.channels.get(channel_id)
        if channel is None or channel["type"] != 1:
            return None
        recipient: dict[str, Any] = channel["recipients"][0]
        return recipient

    def member(self, guild_id: int, user_id: int) -> dict[str, Any] | None:
        guild = self.guilds.get(guild_id)
        return None if guild is None else guild.members.get(user_id)

    def permissions(self, guild_id: int, user_id: int) -> int:
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return EVERYONE_PERMISSIONS | ADMINISTRATOR
        member = guild.members.get(user_id)
        extra = BOT_ROLE_PERMISSIONS if member and str(guild.bot_role_id) in member["roles"] else 0
        return EVERYONE_PERMISSIONS | extra

    def channel_permissions(self, channel_id: int, user_id: int) -> int:
        """A member's permissions in a guild channel (a thread: its parent's), with the
        channel's overwrites applied in Discord's order (Permissions, "Permission
        Overwrites"): @everyone's deny then allow, the member's roles' denies then allows
        together, then the member's own."""
        channel = self.channels[channel_id]
        if channel.get("parent_id") and channel["type"] in (10, 11, 12):
            channel = self.channels[int(channel["parent_id"])]
        guild_id = int(channel["guild_id"])
        allowed = self.permissions(guild_id, user_id)
        if allowed & ADMINISTRATOR:
            return allowed
        member = self.member(guild_id, user_id)
        roles = set(member["roles"]) if member else set()
        overwrites = {o["id"]: o for o in channel.get("permission_overwrites", [])}
        layers = [[overwrites.get(str(guild_id))],
                  [o for key, o in overwrites.items() if key in roles and o["type"] == 0],
                  [overwrites.get(str(user_id))]]
        for layer in layers:
            present = [o for o in layer if o is not None]
            deny = sum_bits(o["deny"] for o in present)
            allow = sum_bits(o["allow"] for o in present)
            allowed = (allowed & ~deny) | allow
        return allowed

    def deny_role(self, channel_id: int, role_id: int, permission: int) -> dict[str, Any]:
        """Adds ``permission`` to the role's deny overwrite on the channel; returns it."""
        channel = self.channels[channel_id]
        overwrites = channel.setdefault("permission_overwrites", [])
        found = next((o for o in overwrites if o["id"] == str(role_id)), None)
        if found is None:
            found = {"id": str(role_id), "type": 0, "allow": "0", "deny": "0"}
            overwrites.append(found)
        found["deny"] = str(int(found["deny"]) | permission)
        return channel

    def start_thread(self, message: dict[str, Any], name: str, minutes: int) -> dict[str, Any]:
        """A public thread on ``message`` opened by the bot (Channels resource, "Start
        Thread from Message"): it takes the message's id, and its owner is the bot."""
        thread_id = int(message["id"])
        parent_id = int(message["channel_id"])
        guild_id = self.guild_of(parent_id)
        assert guild_id is not None
        now = iso()
        thread = {
            "id": str(thread_id), "type": 11, "guild_id": str(guild_id),
            "parent_id": str(parent_id), "owner_id": str(self.bot_id), "name": name,
            "last_message_id": None, "message_count": 0, "member_count": 1,
            "rate_limit_per_user": 0, "flags": 0, "total_message_sent": 0,
            "thread_metadata": {
                "archived": False, "auto_archive_duration": minutes, "locked": False,
                "archive_timestamp": now, "create_timestamp": now,
            },
        }
        self.channels[thread_id] = thread
        self.messages[thread_id] = []
        self.guilds[guild_id].thread_ids.append(thread_id)
        message["thread"] = copy.deepcopy(thread)
        return thread

    def archived(self, channel_id: int) -> bool:
        metadata = self.channels.get(channel_id, {}).get("thread_metadata")
        return bool(metadata and metadata["archived"])

    def partial_member(self, guild_id: int, user_id: int) -> dict[str, Any] | None:
        """A member without its ``user`` key, as in MESSAGE_CREATE's ``member``."""
        member = self.member(guild_id, user_id)
        if member is None:
            return None
        return {key: value for key, value in member.items() if key != "user"}

    @staticmethod
    def shard_of(guild_id: int | None, shard_count: int) -> int:
        """Discord's rule: ``(guild_id >> 22) % shard_count``; DMs go to shard 0."""
        return 0 if guild_id is None else (guild_id >> 22) % shard_count

    # -- gateway payloads ------------------------------------------------------------------

    def roles(self, guild_id: int) -> list[dict[str, Any]]:
        guild = self.guilds[guild_id]
        colors = {"primary_color": 0, "secondary_color": None, "tertiary_color": None}
        everyone = {
            "id": str(guild_id), "name": "@everyone", "color": 0, "colors": colors,
            "hoist": False, "icon": None, "unicode_emoji": None, "position": 0,
            "permissions": str(EVERYONE_PERMISSIONS), "managed": False, "mentionable": False,
            "flags": 0,
        }
        bot_role = {
            **everyone, "id": str(guild.bot_role_id), "name": self.bot_user["username"],
            "position": 1, "permissions": str(BOT_ROLE_PERMISSIONS), "managed": True,
            "tags": {"bot_id": str(self.bot_id)},
        }
        return [everyone, bot_role, *self.extra_roles.get(guild_id, [])]

    def guild_create(self, guild_id: int) -> dict[str, Any]:
        """The GUILD_CREATE payload: everything ``Guild._from_data`` reads."""
        guild = self.guilds[guild_id]
        return {
            "id": str(guild_id), "name": guild.name, "icon": None, "splash": None,
            "discovery_splash": None, "banner": None, "description": None,
            "owner_id": str(guild.owner_id), "afk_channel_id": None, "afk_timeout": 300,
            "widget_enabled": False, "verification_level": 1, "default_message_notifications": 1,
            "explicit_content_filter": 2, "mfa_level": 0, "nsfw_level": 0, "premium_tier": 0,
            "premium_subscription_count": 0, "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US", "features": [], "application_id": None,
            "system_channel_id": str(guild.channel_ids[0]), "system_channel_flags": 0,
            "rules_channel_id": None, "public_updates_channel_id": None,
            "safety_alerts_channel_id": None, "max_members": 500000, "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50, "vanity_url_code": None, "incidents_data": None,
            "roles": self.roles(guild_id), "emojis": [], "stickers": [],
            "joined_at": guild.joined_at, "large": False, "unavailable": False, "lazy": True,
            "member_count": len(guild.members),
            "members": [copy.deepcopy(member) for member in guild.members.values()],
            "channels": [self._without_guild(self.channels[c]) for c in guild.channel_ids],
            # Guild Create: "All active threads in the guild that current user has permission
            # to view": archived ones are left out.
            "threads": [
                copy.deepcopy(self.channels[t]) for t in guild.thread_ids if not self.archived(t)
            ],
            "presences": [], "voice_states": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [], "embedded_activities": [],
        }

    @staticmethod
    def _without_guild(channel: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in channel.items() if key != "guild_id"}

    def guild_ids_for_shard(self, shard_id: int, shard_count: int) -> list[int]:
        return [gid for gid in self.guilds if self.shard_of(gid, shard_count) == shard_id]

    # -- messages --------------------------------------------------------------------------

    def store(self, message: dict[str, Any], *, ephemeral: bool = False) -> dict[str, Any]:
        message_id = int(message["id"])
        if ephemeral:
            self.ephemeral[message_id] = message
            return message
        channel_id = int(message["channel_id"])
        self.messages.setdefault(channel_id, []).append(message)
        self.message_index[message_id] = message
        channel = self.channels.get(channel_id)
        if channel is not None:
            channel["last_message_id"] = message["id"]
            if channel["type"] == 11:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
        return message

    def find(self, message_id: int) -> dict[str, Any] | None:
        return self.message_index.get(message_id) or self.ephemeral.get(message_id)

    def get(self, channel_id: int, message_id: int) -> dict[str, Any] | None:
        message = self.message_index.get(message_id)
        if message is None or int(message["channel_id"]) != channel_id:
            return None
        return message

    def remove(self, message_id: int) -> dict[str, Any] | None:
        message = self.message_index.pop(message_id, None) or self.ephemeral.pop(message_id, None)
        if message is not None:
            history = self.messages.get(int(message["channel_id"]), [])
            if message in history:
                history.remove(message)
            self.reactions.pop(message_id, None)
        return message

    def mentions_in(self, content: str, guild_id: int | None) -> list[dict[str, Any]]:
        """Users mentioned as ``<@id>`` in ``content``, with ``member`` in guilds."""
        found: list[dict[str, Any]] = []
        for raw in dict.fromkeys(_MENTION_USER.findall(content)):
            user = self.users.get(int(raw))
            if user is not None:
                found.append(self.mention_of(user, guild_id))
        return found

    @staticmethod
    def role_mentions_in(content: str) -> list[str]:
        return list(dict.fromkeys(_MENTION_ROLE.findall(content)))

    def mention_of(self, user: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        mention = dict(user)
        member = None if guild_id is None else self.partial_member(guild_id, int(user["id"]))
        if member is not None:
            mention["member"] = member
        return mention

    def content_visible(self, message: dict[str, Any], *, intent: bool) -> bool:
        """Discord's Message Content rule, for a viewer with or without the intent."""
        if intent or self.is_dm(int(message["channel_id"])):
            return True
        if int(message["author"]["id"]) == self.bot_id:
            return True
        return any(int(user["id"]) == self.bot_id for user in message.get("mentions", []))

    def render(
        self, message: dict[str, Any], *, intent: bool, gateway: bool = False, nested: bool = True
    ) -> dict[str, Any]:
        """A stored message as the bot sees it: reactions, ``referenced_message``, and the
        Message Content rule applied; gateway payloads also carry ``guild_id`` and ``member``."""
        out = copy.deepcopy(message)
        out["reactions"] = self._render_reactions(int(message["id"]))
        if not out["reactions"]:
            del out["reactions"]
        if not self.content_visible(message, intent=intent):
            out.update(content="", embeds=[], attachments=[], components=[])
            out.pop("poll", None)
        reference = message.get("message_reference")
        if nested and reference and reference.get("type", 0) == 0 and message.get("type") == 19:
            referenced = self.find(int(reference["message_id"]))
            out["referenced_message"] = (
                None if referenced is None
                else self.render(referenced, intent=intent, gateway=False, nested=False)
            )
        guild_id = self.guild_of(int(message["channel_id"]))
        if gateway and guild_id is not None:
            out["guild_id"] = str(guild_id)
            member = self.partial_member(guild_id, int(message["author"]["id"]))
            if member is not None and "webhook_id" not in message:
                out["member"] = member
            out["mentions"] = [self.mention_of(user, guild_id) for user in out["mentions"]]
        return out

    def _render_reactions(self, message_id: int) -> list[dict[str, Any]]:
        return [
            {
                "emoji": dict(reaction.emoji), "count": len(reaction.users),
                "count_details": {"burst": 0, "normal": len(reaction.users)},
                "me": self.bot_id in reaction.users, "me_burst": False, "burst_me": False,
                "burst_colors": [], "burst_count": 0,
            }
            for reaction in self.reactions.get(message_id, {}).values()
            if reaction.users
        ]

    def react(self, message_id: int, emoji: dict[str, Any], user_id: int, *, add: bool) -> bool:
        """Adds or removes a reaction; returns whether anything changed."""
        reactions = self.reactions.setdefault(message_id, {})
        reaction = reactions.setdefault(emoji_key(emoji), Reaction(emoji))
        if add == (user_id in reaction.users):
            return False
        if add:
            reaction.users.append(user_id)
        else:
            reaction.users.remove(user_id)
        return True


def sum_bits(values: Any) -> int:
    """Permission bit sets as Discord writes them (decimal strings), or-ed together."""
    total = 0
    for value in values:
        total |= int(value)
    return total


def attachment_dict(
    attachment_id: int,
    filename: str,
    *,
    size: int = 0,
    url: str,
    content_type: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An attachment object; ``url`` and ``proxy_url`` point wherever the caller says."""
    return {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
        **extra,
    }
