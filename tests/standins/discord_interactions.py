"""Application commands and interactions for the Discord stand-in.

* :class:`CommandRegistry` keeps what the bot synced (``PUT /applications/{app}/commands``
  and the guild variant): Discord-style validation of names and descriptions, stable ids
  per ``(name, type)`` across re-syncs, a new ``version`` each time, every field answered
  with the server-side default Discord fills in, and the daily cap on command creates.
* :func:`command_data` builds the ``data`` of an INTERACTION_CREATE for ``/name`` (or
  ``"group sub"``), typing a dict of options from the synced schema (string 3, integer 4,
  boolean 5, user 6, channel 7, role 8, mentionable 9, number 10, attachment 11) with
  ``resolved`` users, members, channels, roles and attachments (an attachment option's
  value is the attachment's id, the object itself under ``resolved.attachments``: the
  "Resolved Data Structure" of Discord's Interactions docs); a raw list of options is sent
  as given.
* :func:`interaction_payload` builds the INTERACTION_CREATE payload discord.py parses
  (``member`` with ``permissions`` in guilds, ``user`` in DMs, ``app_permissions``,
  ``context``, ``authorizing_integration_owners``, ``attachment_size_limit``...).
* :class:`Interaction` records what the bot answered.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.standins.discord_gateway import Changes
from tests.standins.discord_rest import ApiError, form_error
from tests.standins.discord_world import EVERYONE_PERMISSIONS, FLAG_LOADING, World, iso

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
INTERACTION_FLAGS = (1 << 2) | (1 << 6) | (1 << 12) | (1 << 15)


class Interaction:
    """An interaction the stand-in dispatched, and what the bot answered to it."""

    def __init__(
        self, payload: dict[str, Any], created: float, *, world: World, changes: Changes
    ) -> None:
        self._world = world
        self._changes = changes
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.channel_id = int(payload["channel_id"])
        self.guild_id: int | None = int(payload["guild_id"]) if "guild_id" in payload else None
        self.created = created
        self.callbacks: list[dict[str, Any]] = []
        self.followups: list[dict[str, Any]] = []
        self.edits: list[dict[str, Any]] = []
        self.response_type: int | None = None
        self.acknowledged: float | None = None
        self.original_message_id: int | None = None
        self.message_ids: list[int] = []
        self.loading = False

    @property
    def user(self) -> dict[str, Any]:
        user: dict[str, Any] = (self.payload.get("member") or self.payload)["user"]
        return user

    def original_message(self) -> dict[str, Any] | None:
        """The response message as stored now (after edits), if the response made one."""
        if self.original_message_id is None:
            return None
        return self._world.find(self.original_message_id)

    async def wait_for_callback(self, timeout: float = 5.0) -> dict[str, Any]:
        """The first accepted ``POST .../callback`` body (rejected ones are in ``requests``)."""
        return await self._changes.until(
            lambda: self.callbacks[0] if self.callbacks else None, timeout,
            f"a callback to interaction {self.id}",
        )

    async def wait_for_followup(
        self, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The first ``count`` followup bodies (followup POSTs and ``@original`` edits)."""
        return await self._changes.until(
            lambda: self.followups[:count] if len(self.followups) >= count else None,
            timeout, f"{count} followup(s) to interaction {self.id}",
        )

    def complete_message(
        self, message: dict[str, Any], body: dict[str, Any], *, loading: bool, flags: int | None
    ) -> dict[str, Any]:
        """Turns a base message into one made by this interaction's webhook (type 20 for a
        command), with the body's (or the given) flags; ``loading``: a "thinking" message."""
        message["components"] = body.get("components") or []
        wanted = int(body.get("flags") or 0) if flags is None else flags
        message["flags"] = (wanted & INTERACTION_FLAGS) | (FLAG_LOADING if loading else 0)
        message["type"] = 20 if self.type == 2 else 0
        app = self.payload["application_id"]
        message["webhook_id"] = app
        message["application_id"] = app
        metadata: dict[str, Any] = {
            "id": str(self.id), "type": self.type, "user": self.user,
            "authorizing_integration_owners": self.payload["authorizing_integration_owners"],
        }
        if self.type == 2:
            metadata["name"] = self.payload["data"]["name"]
            metadata["command_type"] = self.payload["data"].get("type", 1)
        message["interaction_metadata"] = metadata
        self.message_ids.append(int(message["id"]))
        return message


DAILY_CREATES = 200
# Discord's JSON error code 30034, "Max number of daily application command creates has
# been reached (200)" (developer docs, Topics → Opcodes and Status Codes → JSON Error Codes).
MAX_DAILY_CREATES = 30034
ALL_CONTEXTS = [0, 1, 2]  # GUILD, BOT_DM, PRIVATE_CHANNEL
GUILD_INSTALL = [0]


class CommandRegistry:
    """Synced application commands, global (key None) and per guild.

    What Discord sends back follows the Application Command Object (developer docs,
    Interactions → Application Commands): ``id`` and ``application_id`` snowflakes, an
    autoincrementing ``version`` snowflake on every update, ``type`` 1 (CHAT_INPUT) unless
    given, ``description`` "" for user and message commands, ``default_member_permissions``
    null, ``nsfw`` false, null localizations; for global commands only, ``dm_permission``
    true (deprecated, still returned), ``contexts`` all three interaction contexts "by
    default for new commands", and ``integration_types`` the application's configured
    installation contexts (``integration_types``: guild install, this application's
    setting). Guild commands get ``guild_id`` and no ``contexts``/``dm_permission``.

    "There is a global rate limit of 200 application command creates per day, per guild"
    (same page, Registering a Command): a create is a command whose ``(name, type)`` the
    scope did not have; updates and deletes do not count. Past the cap the upload is
    rejected with 429 and code 30034 and nothing is stored. The stand-in's day never ends.
    """

    def __init__(
        self, world: World, application_id: int, *, integration_types: list[int] | None = None
    ) -> None:
        self.world = world
        self.application_id = application_id
        self.integration_types = integration_types or GUILD_INSTALL
        self.scopes: dict[int | None, list[dict[str, Any]]] = {}
        self.creates: dict[int | None, int] = {}
        self._fabricated: dict[str, int] = {}

    def get(self, guild_id: int | None) -> list[dict[str, Any]]:
        return self.scopes.get(guild_id, [])

    @staticmethod
    def check(index: int, command: dict[str, Any]) -> None:
        name = command.get("name") or ""
        if not _COMMAND_NAME.match(name) or name != name.lower():
            raise form_error(
                [index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        description = command.get("description") or ""
        if command.get("type", 1) == 1 and not 1 <= len(description) <= 100:
            raise form_error(
                [index, "description"], "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        if len(command.get("options") or []) > 25:
            raise form_error(
                [index, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )

    def _same(self, command: dict[str, Any], guild_id: int | None) -> dict[str, Any] | None:
        kind = command.get("type") or 1
        return next(
            (c for c in self.get(guild_id) if (c["name"], c["type"]) == (command["name"], kind)),
            None,
        )

    def _count_creates(self, guild_id: int | None, commands: list[dict[str, Any]]) -> None:
        new = sum(1 for command in commands if self._same(command, guild_id) is None)
        if self.creates.get(guild_id, 0) + new > DAILY_CREATES:
            raise ApiError(429, {
                "message": "Max number of daily application command creates has been "
                           f"reached ({DAILY_CREATES})",
                "code": MAX_DAILY_CREATES, "retry_after": 86_400.0, "global": False,
            }, {"Retry-After": "86400"})
        self.creates[guild_id] = self.creates.get(guild_id, 0) + new

    def _stored(self, command: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        given = {key: value for key, value in command.items() if value is not None}
        same = self._same(command, guild_id)
        stored: dict[str, Any] = {
            "id": same["id"] if same else str(self.world.snowflakes.next()),
            "application_id": str(self.application_id),
            "version": str(self.world.snowflakes.next()),
            "default_member_permissions": None, "type": 1, "nsfw": False,
            "name_localizations": None, "description_localizations": None,
            "description": "",
            **given,
        }
        if guild_id is None:
            stored.setdefault("dm_permission", True)
            stored.setdefault("contexts", list(ALL_CONTEXTS))
            stored.setdefault("integration_types", list(self.integration_types))
        else:
            stored["guild_id"] = str(guild_id)
            stored.pop("contexts", None)
            stored.pop("dm_permission", None)
        return stored

    def overwrite(
        self, guild_id: int | None, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """A bulk overwrite (PUT): the stored list becomes ``commands``."""
        for index, command in enumerate(commands):
            self.check(index, command)
        self._count_creates(guild_id, commands)
        self.scopes[guild_id] = [self._stored(c, guild_id) for c in commands]
        return self.scopes[guild_id]

    def upsert(self, guild_id: int | None, command: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Creates or replaces one command; returns (created, stored)."""
        self.check(0, command)
        self._count_creates(guild_id, [command])
        stored = self._stored(command, guild_id)
        old = self.get(guild_id)
        created = not any(c["id"] == stored["id"] for c in old)
        self.scopes[guild_id] = [c for c in old if c["id"] != stored["id"]] + [stored]
        return created, stored

    def delete(self, guild_id: int | None, command_id: str) -> bool:
        old = self.get(guild_id)
        self.scopes[guild_id] = [c for c in old if c["id"] != command_id]
        return len(old) != len(self.scopes[guild_id])

    def find(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        """The chat-input command ``name`` a user in ``guild_id`` would see."""
        for scope in ([guild_id, None] if guild_id is not None else [None]):
            for command in self.get(scope):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        return None

    def fabricated_id(self, name: str) -> int:
        """A stable id for a command the bot never synced."""
        if name not in self._fabricated:
            self._fabricated[name] = self.world.snowflakes.next()
        return self._fabricated[name]


def command_data(
    registry: CommandRegistry,
    name: str,
    options: dict[str, object] | list[dict[str, Any]] | None,
    guild_id: int | None,
) -> dict[str, Any]:
    """The ``data`` of a chat-input INTERACTION_CREATE for ``/name`` (``"group sub"`` too)."""
    parts = name.split()
    command = registry.find(parts[0], guild_id)
    data: dict[str, Any] = {
        "id": command["id"] if command else str(registry.fabricated_id(parts[0])),
        "name": parts[0], "type": 1,
    }
    if command and command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    container, schema = data, (command or {}).get("options", [])
    for sub in parts[1:]:
        spec = next((o for o in schema if o.get("name") == sub), None)
        node: dict[str, Any] = {"type": spec["type"] if spec else 1, "name": sub, "options": []}
        container.setdefault("options", []).append(node)
        container, schema = node, (spec or {}).get("options", [])
    resolved: dict[str, dict[str, Any]] = {}
    if isinstance(options, list):
        typed = options
    else:
        typed = [
            _typed_option(registry.world, key, value, schema=schema, guild_id=guild_id,
                          resolved=resolved)
            for key, value in (options or {}).items()
        ]
    if typed or container is data:
        container["options"] = typed
    if resolved:
        data["resolved"] = resolved
    return data


def _typed_option(
    world: World,
    name: str,
    value: object,
    *,
    schema: list[dict[str, Any]],
    guild_id: int | None,
    resolved: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    spec = next((o for o in schema if o.get("name") == name), None)
    kind = spec["type"] if spec else _OPTION_TYPES.get(type(value), 3)
    if kind in (6, 7, 8, 9):
        value = resolve_target(world, kind, value, guild_id, resolved)
    elif kind == 11 and isinstance(value, dict):
        resolved.setdefault("attachments", {})[str(value["id"])] = value
        value = str(value["id"])
    elif kind == 4 and isinstance(value, str | int | float) and not isinstance(value, bool):
        value = int(value)
    elif kind == 10 and isinstance(value, str | int | float):
        value = float(value)
    elif kind == 3:
        value = str(value)
    return {"name": name, "type": kind, "value": value}


def resolve_target(
    world: World,
    kind: int,
    value: object,
    guild_id: int | None,
    resolved: dict[str, dict[str, Any]],
) -> str:
    key = str(value.get("id") if isinstance(value, dict) else value)
    user = world.users.get(int(key))
    channel = world.channels.get(int(key))
    if kind in (6, 9) and user is not None:
        resolved.setdefault("users", {})[key] = user
        member = None if guild_id is None else world.partial_member(guild_id, int(key))
        if guild_id is not None and member is not None:
            permissions = str(world.permissions(guild_id, int(key)))
            resolved.setdefault("members", {})[key] = {**member, "permissions": permissions}
    elif kind == 7 and channel is not None:
        entry = {k: channel[k] for k in ("id", "type", "name", "parent_id") if k in channel}
        resolved.setdefault("channels", {})[key] = {**entry, "permissions": "0"}
    elif kind in (8, 9) and guild_id is not None:
        role = next((r for r in world.roles(guild_id) if r["id"] == key), None)
        if role is not None:
            resolved.setdefault("roles", {})[key] = role
    return key


def interaction_payload(
    world: World,
    application_id: int,
    kind: int,
    data: dict[str, Any],
    *,
    user: dict[str, Any],
    channel_id: int,
    guild_id: int | None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload with a fresh id and token."""
    channel = dict(world.channels.get(channel_id) or {"id": str(channel_id), "type": 0})
    payload: dict[str, Any] = {
        "id": str(world.snowflakes.next()), "application_id": str(application_id),
        "type": kind, "data": data, "channel_id": str(channel_id), "channel": channel,
        "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96), "version": 1,
        "locale": "en-US", "entitlements": [], "entitlement_sku_ids": [],
        "attachment_size_limit": 10 * 1024 * 1024,
        "context": 0 if guild_id is not None else 1,
    }
    if guild_id is None:
        payload["user"] = user
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["app_permissions"] = str(EVERYONE_PERMISSIONS)
        return payload
    member = world.member(guild_id, int(user["id"])) or {
        "user": user, "roles": [], "joined_at": iso(), "deaf": False, "mute": False,
        "flags": 0, "pending": False, "nick": None, "avatar": None,
    }
    payload.update(
        guild_id=str(guild_id), guild_locale="en-US",
        guild={"id": str(guild_id), "locale": "en-US", "features": []},
        member={**member, "permissions": str(world.permissions(guild_id, int(user["id"])))},
        app_permissions=str(world.permissions(guild_id, world.bot_id)),
        authorizing_integration_owners={"0": str(guild_id)},
    )
    return payload
