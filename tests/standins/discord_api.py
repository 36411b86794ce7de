"""The REST half of the Discord stand-in: state, event helpers and every REST handler.

:class:`DiscordApi` is the base of :class:`tests.standins.discord_server.DiscordStandIn`
(which adds the lifecycle and the test-facing API); nothing here is meant to be called
from tests directly.

REST subset (every call is recorded in ``requests``, faulted or not):

* login: ``GET /users/@me`` (401 ``{"message": "401: Unauthorized", "code": 0}`` for any
  token but ``token``), ``GET /oauth2/applications/@me``, ``GET /gateway``,
  ``GET /gateway/bot``, ``GET /users/{id}``, ``GET /users/@me/guilds``,
  ``POST /users/@me/channels``;
* channels and messages: ``GET /channels/{c}``, ``GET/POST /channels/{c}/messages``
  (``limit``/``before``/``after``/``around``, newest first), ``GET/PATCH/DELETE
  /channels/{c}/messages/{m}``, ``POST /channels/{c}/typing``, reactions (``PUT/DELETE
  .../reactions/{emoji}/@me``, ``GET .../reactions/{emoji}``); JSON or multipart bodies;
* guilds: ``GET /guilds/{g}``, ``GET /guilds/{g}/channels``, ``GET /guilds/{g}/members/{u}``;
* application commands: ``GET/PUT/POST /applications/{app}/commands``, the
  ``/guilds/{g}/commands`` variants, ``DELETE`` of one command;
* threads: ``POST /channels/{c}/messages/{m}/threads`` ("Start Thread from Message");
* interactions: ``POST /interactions/{id}/{token}/callback`` (types 1, 4, 5, 6, 7, 8, 9;
  ``?with_response=true`` answers the callback resource), followups ``POST
  /webhooks/{app}/{token}`` (``?wait=true``), ``GET/PATCH/DELETE
  /webhooks/{app}/{token}/messages/{@original|id}``;
* ``/attachments/...`` (outside ``/api``; recorded in ``cdn_files.served``) serves attachment
  bytes as Discord's CDN does (:mod:`tests.standins.discord_cdn`).

Rules as on Discord: message limits and empty messages (see
:mod:`tests.standins.discord_rest`); editing someone else's message → 403 50005, deleting
it → 403 50013 (the bot has no Manage Messages); a first interaction callback later than
``interaction_deadline`` (3 s) → 404 10062, a second one → 400 40060; followups and
webhook edits only after the callback (else 404 10015) and within ``followup_window``
(15 min, else 401 50027); after a type-5 defer the first followup fills the "thinking"
message. REST reads of messages apply the Message Content rule of the newest gateway
session. The bot's own sends, edits, deletes and reactions come back as gateway events.

Threads, as the Channels resource ("Start Thread from Message") and the Threads topic say:
a thread started from a message takes the message's id ("the id of the created thread will
be the same as the id of the source message") and is announced with THREAD_CREATE
(``newly_created``); ``name`` must be 1-100 characters and ``auto_archive_duration`` one of
60, 1440, 4320, 10080 (else 400 50035); only text channels take them (400 50024 "Cannot
execute action on this channel type", as for forum and media channels); without Create
Public Threads in the channel (overwrites applied) → 403 50013; a second thread on one
message → 400 160004 "A thread has already been created for this message". A reply must
be in the channel of the message it replies to (Inline Replies: "the channel id of the
referenced message must match the channel that you're sending the message in") → 400
50035 otherwise. "Sending a message will automatically unarchive the thread, unless the
thread has been locked by a moderator" (Threads topic, "Archiving"): a message to an
archived thread first unarchives it (THREAD_UPDATE), and one to a locked archived thread
→ 400 50083 "Thread is archived".
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from tests.standins.discord_cdn import DiscordCdn
from tests.standins.discord_gateway import OUTBOUND_LIMIT, Changes, Gateway, Session
from tests.standins.discord_interactions import CommandRegistry, Interaction, interaction_payload
from tests.standins.discord_ratelimits import RateLimits
from tests.standins.discord_rest import (
    HANG,
    MISSING_PERMISSIONS,
    ApiError,
    Fault,
    MessageFactory,
    RecordedFile,
    RecordedRequest,
    api_error,
    form_error,
    read_request,
    respond,
    unknown,
)
from tests.standins.discord_world import (
    APP_FLAG_APPLICATION_COMMAND_BADGE,
    APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED,
    APPLICATION_ID,
    BOT_TOKEN,
    BOT_USER,
    CREATE_PUBLIC_THREADS,
    FLAG_EPHEMERAL,
    INTENT_DIRECT_MESSAGE_REACTIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    OWNER,
    THREAD_ARCHIVE_MINUTES,
    World,
    emoji_key,
    iso,
    parse_emoji,
)

REQUESTS_KEPT = 10_000  # recorded requests kept whole; older ones lose their bodies

Params = dict[str, str]
Reply = tuple[int, Any]
Handler = Callable[[RecordedRequest, Params], Awaitable[Reply]]
# https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-autocomplete
MAX_AUTOCOMPLETE_CHOICES = 25


class DiscordApi:
    """State shared by the REST handlers and the gateway; see the module docstring."""

    def __init__(
        self,
        *,
        message_content_intent_granted: bool = True,
        reject_disallowed_intents: bool = True,
        interaction_deadline: float = 3.0,
        followup_window: float = 15 * 60.0,
        heartbeat_interval: float = 41.25,
        recommended_shards: int = 1,
        token: str = BOT_TOKEN,
        rate_limits: bool = True,
        outbound_limit: int = OUTBOUND_LIMIT,
        requests_kept: int = REQUESTS_KEPT,
    ) -> None:
        self.message_content_intent_granted = message_content_intent_granted
        self.interaction_deadline = interaction_deadline
        self.followup_window = followup_window
        self.recommended_shards = recommended_shards
        self.token = token
        self.bot_user: dict[str, Any] = BOT_USER
        self.world = World(bot_user=self.bot_user)
        self.requests: list[RecordedRequest] = []
        self.requests_kept = requests_kept
        self.interactions: dict[int, Interaction] = {}
        self.commands = CommandRegistry(self.world, APPLICATION_ID)
        self.cdn_files = DiscordCdn()
        self.deleted_message_ids: list[int] = []
        flags = APP_FLAG_APPLICATION_COMMAND_BADGE
        if message_content_intent_granted:
            flags |= APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED
        self.application_flags = flags
        self._changes = Changes()
        self.gateway = Gateway(
            self.world, token=token, application_flags=flags,
            content_intent_granted=message_content_intent_granted,
            reject_disallowed_intents=reject_disallowed_intents,
            heartbeat_interval=int(heartbeat_interval * 1000), changes=self._changes,
            outbound_limit=outbound_limit,
        )
        self._messages = MessageFactory(self.world, self.attachment)
        self._sent_ids: list[int] = []
        self._deleted: dict[int, dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self.rate_limits = RateLimits() if rate_limits else None
        self._denied: set[int] = set()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._route_table()

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("DiscordStandIn is not started")
        return self._port

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api/v10``, for ``discord.http.Route.BASE``."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/gateway``, for ``DiscordWebSocket.DEFAULT_GATEWAY``."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def attachment(
        self,
        filename: str,
        data: bytes = b"",
        content_type: str | None = None,
        *,
        channel_id: int = 0,
        **serving: Any,
    ) -> dict[str, Any]:
        """An attachment object whose signed ``url`` serves ``data`` from this stand-in's CDN
        route (:class:`tests.standins.discord_cdn.DiscordCdn`; ``serving`` takes its
        ``size``, ``body_size``, ``length``, ``drip``, ``chunk``)."""
        return self.cdn_files.host(
            channel_id, filename, data, content_type,
            attachment_id=self.world.snowflakes.next(), **serving,
        )

    # -- event helpers ---------------------------------------------------------------------

    def _stored(self, channel_id: int, message_id: int) -> dict[str, Any]:
        message = self.world.get(channel_id, message_id)
        if message is None:
            raise ValueError(f"message {message_id} is not in channel {channel_id}")
        return message

    def _message_intent(self, channel_id: int) -> tuple[int | None, int]:
        guild_id = self.world.guild_of(channel_id)
        return guild_id, INTENT_GUILD_MESSAGES if guild_id else INTENT_DIRECT_MESSAGES

    async def _dispatch_message(self, event: str, message: dict[str, Any]) -> dict[str, Any]:
        guild_id, intent = self._message_intent(int(message["channel_id"]))

        def render(session: Session) -> dict[str, Any]:
            visible = self.gateway.content_intent(session)
            return self.world.render(message, intent=visible, gateway=True)

        sent = await self.gateway.dispatch(event, render, guild_id=guild_id, intent=intent)
        return sent or self.world.render(message, intent=True, gateway=True)

    async def _delete(self, message: dict[str, Any]) -> None:
        message_id = int(message["id"])
        self.world.remove(message_id)
        self._deleted[message_id] = message
        self.deleted_message_ids.append(message_id)
        channel_id = int(message["channel_id"])
        guild_id, intent = self._message_intent(channel_id)
        data = {"id": message["id"], "channel_id": str(channel_id)}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        if not message["flags"] & FLAG_EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_DELETE", data, guild_id=guild_id, intent=intent)
        self._changes.notify()

    async def _react(
        self, message: dict[str, Any], emoji_text: str, user: dict[str, Any], *, add: bool
    ) -> dict[str, Any]:
        emoji = parse_emoji(emoji_text)
        user_id = int(user["id"])
        self.world.react(int(message["id"]), emoji, user_id, add=add)
        channel_id = int(message["channel_id"])
        guild_id = self.world.guild_of(channel_id)
        data: dict[str, Any] = {
            "user_id": str(user_id), "channel_id": str(channel_id), "message_id": message["id"],
            "emoji": {"id": emoji["id"], "name": emoji["name"]}, "burst": False, "type": 0,
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        if add:
            data["message_author_id"] = message["author"]["id"]
            data["burst_colors"] = []
            member = None if guild_id is None else self.world.member(guild_id, user_id)
            if member is not None:
                data["member"] = member
        intent = INTENT_GUILD_MESSAGE_REACTIONS if guild_id else INTENT_DIRECT_MESSAGE_REACTIONS
        event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
        await self.gateway.dispatch(event, data, guild_id=guild_id, intent=intent)
        return data

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        user: dict[str, Any],
        channel_id: int,
        guild_id: int | None,
        *,
        message: dict[str, Any] | None = None,
    ) -> Interaction:
        payload = interaction_payload(
            self.world, APPLICATION_ID, kind, data,
            user=user, channel_id=channel_id, guild_id=guild_id,
        )
        if message is not None:
            payload["message"] = message
        created = asyncio.get_running_loop().time()
        interaction = Interaction(payload, created, world=self.world, changes=self._changes)
        self.interactions[interaction.id] = interaction
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return interaction

    async def _thread_event(self, event: str, thread: dict[str, Any], **extra: Any) -> None:
        """THREAD_CREATE / THREAD_UPDATE: the thread channel, to its guild's session."""
        guild_id = int(thread["guild_id"])
        data = {**copy.deepcopy(thread), **extra}
        await self.gateway.dispatch(event, data, guild_id=guild_id, intent=INTENT_GUILDS)
        self._changes.notify()

    async def _unarchive_for_message(self, channel_id: int) -> None:
        """A message sent to an archived thread unarchives it first, unless it is locked."""
        if not self.world.archived(channel_id):
            return
        metadata = self.world.channels[channel_id]["thread_metadata"]
        if metadata["locked"]:
            raise api_error(400, 50083, "Thread is archived")
        metadata.update(archived=False, archive_timestamp=iso())
        await self._thread_event("THREAD_UPDATE", self.world.channels[channel_id])

    async def _publish(self, message: dict[str, Any]) -> None:
        """Stores a message the bot made and echoes it on the gateway (unless ephemeral)."""
        self._sent_ids.append(int(message["id"]))
        ephemeral = bool(message["flags"] & FLAG_EPHEMERAL)
        self.world.store(message, ephemeral=ephemeral)
        if not ephemeral:
            await self._dispatch_message("MESSAGE_CREATE", message)
        self._changes.notify()

    async def _edit(
        self, message: dict[str, Any], req: RecordedRequest, *, prefix: Sequence[str] = ()
    ) -> None:
        self._messages.edit(message, req.json or {}, req.files, prefix=prefix)
        if not message["flags"] & FLAG_EPHEMERAL:
            await self._dispatch_message("MESSAGE_UPDATE", message)
        self._changes.notify()

    # -- HTTP plumbing ---------------------------------------------------------------------

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler, bool]]:
        """(method, path pattern, handler, needs ``Authorization: Bot <token>``)."""
        c, m, e = r"(?P<channel>\d+)", r"(?P<message>\d+)", r"(?P<emoji>[^/]+)"
        app, g, u = r"(?P<app>\d+)", r"(?P<guild>\d+)", r"(?P<user>\d+)"
        msg = rf"/channels/{c}/messages/{m}"
        commands = rf"/applications/{app}(?:/guilds/{g})?/commands"
        hook = rf"/webhooks/{app}/(?P<token>[^/]+)"
        hook_msg = rf"{hook}/messages/(?P<message>@original|\d+)"
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/users/@me", self._get_me, True),
            ("POST", "/users/@me/channels", self._open_dm, True),
            ("GET", "/users/@me/guilds", self._get_my_guilds, True),
            ("GET", rf"/users/{u}", self._get_user, True),
            ("GET", "/(?:oauth2/)?applications/@me", self._get_application, True),
            ("GET", rf"/channels/{c}", self._get_channel, True),
            ("GET", rf"/channels/{c}/messages", self._get_messages, True),
            ("POST", rf"/channels/{c}/messages", self._post_message, True),
            ("GET", msg, self._get_message, True),
            ("PATCH", msg, self._patch_message, True),
            ("DELETE", msg, self._delete_message, True),
            ("POST", rf"/channels/{c}/typing", self._typing, True),
            ("POST", rf"{msg}/threads", self._start_thread, True),
            ("PUT", rf"{msg}/reactions/{e}/@me", self._put_reaction, True),
            ("DELETE", rf"{msg}/reactions/{e}/@me", self._delete_reaction, True),
            ("DELETE", rf"{msg}/reactions/{e}/{u}", self._delete_user_reaction, True),
            ("GET", rf"{msg}/reactions/{e}", self._get_reactions, True),
            ("GET", rf"/guilds/{g}", self._get_guild, True),
            ("GET", rf"/guilds/{g}/channels", self._get_guild_channels, True),
            ("GET", rf"/guilds/{g}/members/{u}", self._get_member, True),
            ("GET", rf"/channels/{c}/thread-members/{u}", self._get_thread_member, True),
            ("GET", commands, self._get_commands, True),
            ("PUT", commands, self._put_commands, True),
            ("POST", commands, self._post_command, True),
            ("DELETE", rf"{commands}/(?P<command>\d+)", self._delete_command, True),
            ("POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", self._callback,
             False),
            ("POST", hook, self._followup, False),
            ("GET", hook_msg, self._get_hook_message, False),
            ("PATCH", hook_msg, self._patch_hook_message, False),
            ("DELETE", hook_msg, self._delete_hook_message, False),
        ]
        return [(method, re.compile(path), handler, auth) for method, path, handler, auth in table]

    async def _handle(self, request: web.Request) -> web.Response:
        req = await read_request(request)
        extra_headers: dict[str, str] = {}
        try:
            fault = next((f for f in self._faults if f.matches(req)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                if fault.status == HANG:
                    await asyncio.Future()  # ends when stop() aborts the connection
                raise ApiError(fault.status, fault.body, fault.headers)
            if self.rate_limits is not None:
                extra_headers = self.rate_limits.check(req)
            status, body = await self._route(req)
        except ApiError as error:
            status, body, extra_headers = error.status, error.body, error.headers
        req.status, req.response = status, body
        self.requests.append(req)
        self._forget_bodies(len(self.requests) - 1 - self.requests_kept)
        self._changes.notify()
        return respond(status, body, req.path, extra_headers)

    def _forget_bodies(self, index: int) -> None:
        """Past ``requests_kept`` requests, the oldest keep only method, path, status and
        time: a long run's request log costs a few hundred bytes a request, not kilobytes."""
        if index >= 0:
            old = self.requests[index]
            old.json = old.response = None
            old.headers, old.query, old.files = {}, {}, []

    async def _route(self, req: RecordedRequest) -> Reply:
        for method, pattern, handler, auth in self._routes:
            match = pattern.fullmatch(req.path)
            if match is None or method != req.method:
                continue
            if auth and req.headers.get("Authorization") != f"Bot {self.token}":
                raise api_error(401, 0, "401: Unauthorized")
            return await handler(req, {k: v for k, v in match.groupdict().items() if v})
        raise api_error(404, 0, "404: Not Found")

    # -- REST: login, users, guilds --------------------------------------------------------

    async def _get_gateway(self, req: RecordedRequest, p: Params) -> Reply:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, req: RecordedRequest, p: Params) -> Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return 200, {
            "url": self.gateway_url, "shards": self.recommended_shards,
            "session_start_limit": limit,
        }

    async def _get_me(self, req: RecordedRequest, p: Params) -> Reply:
        return 200, self.world.bot_self

    async def _get_user(self, req: RecordedRequest, p: Params) -> Reply:
        user = self.world.users.get(int(p["user"]))
        if user is None:
            raise unknown("User", 10013)
        return 200, user

    async def _open_dm(self, req: RecordedRequest, p: Params) -> Reply:
        recipient = int((req.json or {}).get("recipient_id") or 0)
        if recipient not in self.world.users or recipient == self.world.bot_id:
            raise unknown("User", 10013)
        return 200, self.world.dm_channel_for(recipient)

    async def _get_application(self, req: RecordedRequest, p: Params) -> Reply:
        return 200, {
            "id": str(APPLICATION_ID), "name": self.bot_user["username"], "icon": None,
            "description": "A local stand-in application.", "summary": "", "type": None,
            "bot_public": True, "bot_require_code_grant": False, "bot": self.bot_user,
            "owner": OWNER, "team": None, "verify_key": "0" * 64, "flags": self.application_flags,
            "hook": True, "is_monetized": False, "is_verified": False, "is_discoverable": False,
            "interactions_endpoint_url": None, "redirect_uris": [], "rpc_origins": [],
            "tags": [], "approximate_guild_count": len(self.world.guilds),
            "approximate_user_install_count": 0, "integration_types_config": {"0": {}},
        }

    async def _get_my_guilds(self, req: RecordedRequest, p: Params) -> Reply:
        """The bot's guilds as partial guilds, ascending by id (``before``/``after``/``limit``)."""
        try:
            limit = int(req.query.get("limit", 200))
            before = int(req.query.get("before", 0)) or None
            after = int(req.query.get("after", 0))
        except ValueError:
            raise form_error(["limit"], "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 200:
            raise form_error(
                ["limit"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 200."
            )
        ids = sorted(g for g in self.world.guilds if g > after and (before is None or g < before))
        ids = ids[-limit:] if before is not None else ids[:limit]
        counts = req.query.get("with_counts", "").lower() in ("1", "true")
        partial = []
        for guild_id in ids:
            guild = self.world.guilds[guild_id]
            entry: dict[str, Any] = {
                "id": str(guild_id), "name": guild.name, "icon": None, "banner": None,
                "owner": guild.owner_id == self.world.bot_id, "features": [],
                "permissions": str(self.world.permissions(guild_id, self.world.bot_id)),
            }
            if counts:
                entry["approximate_member_count"] = len(guild.members)
                entry["approximate_presence_count"] = 0
            partial.append(entry)
        return 200, partial

    def _guild(self, p: Params) -> int:
        guild_id = int(p["guild"])
        if guild_id not in self.world.guilds:
            raise unknown("Guild", 10004)
        return guild_id

    async def _get_guild(self, req: RecordedRequest, p: Params) -> Reply:
        guild = self.world.guild_create(self._guild(p))
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at"):
            guild.pop(key, None)
        return 200, guild

    async def _get_guild_channels(self, req: RecordedRequest, p: Params) -> Reply:
        guild_id = self._guild(p)
        return 200, [self.world.channels[c] for c in self.world.guilds[guild_id].channel_ids]

    async def _get_member(self, req: RecordedRequest, p: Params) -> Reply:
        member = self.world.member(self._guild(p), int(p["user"]))
        if member is None:
            raise unknown("Member", 10007)
        return 200, member

    async def _get_thread_member(self, req: RecordedRequest, p: Params) -> Reply:
        """Discord's "Get Thread Member" (Channels resource): 404 Unknown Member (10007) for
        a user who is not a member of the thread."""
        member = self.world.thread_member(self._channel(p), int(p["user"]))
        if member is None:
            raise unknown("Member", 10007)
        return 200, member

    # -- REST: channels and messages -------------------------------------------------------

    def _channel(self, p: Params) -> int:
        channel_id = int(p["channel"])
        if channel_id not in self.world.channels:
            raise unknown("Channel", 10003)
        return channel_id

    def _message(self, p: Params) -> dict[str, Any]:
        message = self.world.get(self._channel(p), int(p["message"]))
        if message is None:
            raise unknown("Message", 10008)
        return message

    def _render_read(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as a REST read shows it (Message Content rule applied)."""
        return self.world.render(message, intent=self.gateway.content_intent(None))

    async def _get_channel(self, req: RecordedRequest, p: Params) -> Reply:
        return 200, self.world.channels[self._channel(p)]

    async def _get_messages(self, req: RecordedRequest, p: Params) -> Reply:
        history = self.world.messages.get(self._channel(p), [])
        try:
            limit = int(req.query.get("limit", 50))
            q = {k: int(v) for k, v in req.query.items() if k in ("around", "before", "after")}
        except ValueError:
            raise form_error(["limit"], "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise form_error(
                ["limit"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
            )
        if "around" in q:
            newer = [m for m in history if int(m["id"]) >= q["around"]][: (limit + 1) // 2]
            older = [m for m in history if int(m["id"]) < q["around"]]
            page = older[max(0, len(older) - (limit - len(newer))):] + newer
        elif "before" in q:
            page = [m for m in history if int(m["id"]) < q["before"]][-limit:]
        elif "after" in q:
            page = [m for m in history if int(m["id"]) > q["after"]][:limit]
        else:
            page = history[-limit:]
        return 200, [self._render_read(m) for m in reversed(page)]

    async def _get_message(self, req: RecordedRequest, p: Params) -> Reply:
        return 200, self._render_read(self._message(p))

    async def _post_message(self, req: RecordedRequest, p: Params) -> Reply:
        channel_id = self._channel(p)
        if channel_id in self._denied:
            raise ApiError(403, MISSING_PERMISSIONS)
        reference = (req.json or {}).get("message_reference") or {}
        if int(reference.get("channel_id") or channel_id) != channel_id:
            raise form_error(["message_reference"], "MESSAGE_REFERENCE_INVALID_CHANNEL",
                             "Cannot reply to a message in a different channel")
        await self._unarchive_for_message(channel_id)
        message = self._messages.bot_message(channel_id, req.json or {}, req.files)
        await self._publish(message)
        return 200, self.world.render(message, intent=True)

    async def _start_thread(self, req: RecordedRequest, p: Params) -> Reply:
        message = self._message(p)
        channel_id = int(message["channel_id"])
        body = req.json or {}
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise form_error(
                ["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        minutes = body.get("auto_archive_duration", 4320)
        if minutes not in THREAD_ARCHIVE_MINUTES:
            raise form_error(["auto_archive_duration"], "BASE_TYPE_CHOICES",
                             f"Value must be one of {set(THREAD_ARCHIVE_MINUTES)}.")
        if self.world.channels[channel_id]["type"] != 0:
            raise api_error(400, 50024, "Cannot execute action on this channel type")
        granted = self.world.channel_permissions(channel_id, self.world.bot_id)
        if not granted & CREATE_PUBLIC_THREADS:
            raise ApiError(403, MISSING_PERMISSIONS)
        if int(message["id"]) in self.world.channels:
            raise api_error(400, 160004, "A thread has already been created for this message")
        thread = self.world.start_thread(message, name, minutes)
        await self._thread_event("THREAD_CREATE", thread, newly_created=True)
        return 201, copy.deepcopy(thread)

    async def _patch_message(self, req: RecordedRequest, p: Params) -> Reply:
        message = self._message(p)
        if int(message["author"]["id"]) != self.world.bot_id:
            raise api_error(403, 50005, "Cannot edit a message authored by another user")
        await self._edit(message, req)
        return 200, self.world.render(message, intent=True)

    async def _delete_message(self, req: RecordedRequest, p: Params) -> Reply:
        message = self._message(p)
        if int(message["author"]["id"]) != self.world.bot_id:
            raise ApiError(403, MISSING_PERMISSIONS)
        await self._delete(message)
        return 204, None

    async def _typing(self, req: RecordedRequest, p: Params) -> Reply:
        if self._channel(p) in self._denied:
            raise ApiError(403, MISSING_PERMISSIONS)
        return 204, None

    def _emoji(self, p: Params) -> str:
        if parse_emoji(p["emoji"])["id"] is not None:  # the guilds have no custom emojis
            raise api_error(400, 10014, "Unknown Emoji")
        return p["emoji"]

    async def _put_reaction(self, req: RecordedRequest, p: Params) -> Reply:
        await self._react(self._message(p), self._emoji(p), self.bot_user, add=True)
        return 204, None

    async def _delete_reaction(self, req: RecordedRequest, p: Params) -> Reply:
        await self._react(self._message(p), self._emoji(p), self.bot_user, add=False)
        return 204, None

    async def _delete_user_reaction(self, req: RecordedRequest, p: Params) -> Reply:
        self._message(p)
        raise ApiError(403, MISSING_PERMISSIONS)  # needs Manage Messages, which the bot lacks

    async def _get_reactions(self, req: RecordedRequest, p: Params) -> Reply:
        message = self._message(p)
        emoji = parse_emoji(p["emoji"])
        reactions = self.world.reactions.get(int(message["id"]), {})
        reaction = reactions.get(emoji_key(emoji))
        return 200, [self.world.users[u] for u in (reaction.users if reaction else [])]

    # -- REST: application commands --------------------------------------------------------

    def _command_scope(self, p: Params) -> int | None:
        if int(p["app"]) != APPLICATION_ID:
            raise api_error(403, 50001, "Missing Access")
        return self._guild(p) if "guild" in p else None

    async def _get_commands(self, req: RecordedRequest, p: Params) -> Reply:
        return 200, self.commands.get(self._command_scope(p))

    async def _put_commands(self, req: RecordedRequest, p: Params) -> Reply:
        commands = req.json if isinstance(req.json, list) else []
        return 200, self.commands.overwrite(self._command_scope(p), commands)

    async def _post_command(self, req: RecordedRequest, p: Params) -> Reply:
        created, stored = self.commands.upsert(self._command_scope(p), req.json or {})
        return (201 if created else 200), stored

    async def _delete_command(self, req: RecordedRequest, p: Params) -> Reply:
        if not self.commands.delete(self._command_scope(p), p["command"]):
            raise unknown("application command", 10063)
        return 204, None

    # -- REST: interactions ----------------------------------------------------------------

    async def _callback(self, req: RecordedRequest, p: Params) -> Reply:
        interaction = self.interactions.get(int(p["id"]))
        if interaction is None or interaction.token != p["token"]:
            raise unknown("interaction", 10062)
        if interaction.response_type is not None:
            raise api_error(400, 40060, "Interaction has already been acknowledged.")
        now = asyncio.get_running_loop().time()
        if now - interaction.created > self.interaction_deadline:
            raise unknown("interaction", 10062)
        body = req.json or {}
        kind = body.get("type")
        resource = await self._respond_to(interaction, kind, body.get("data") or {}, req.files)
        interaction.response_type = kind
        interaction.acknowledged = now
        interaction.callbacks.append(body)
        self._changes.notify()
        if req.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        original = interaction.original_message() if kind in (4, 5) else None
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id), "type": interaction.type,
                "response_message_id": original["id"] if original else None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(
                    original and original["flags"] & FLAG_EPHEMERAL
                ),
            },
        }
        if resource is not None:
            answer["resource"] = resource
        return 200, answer

    async def _respond_to(
        self, interaction: Interaction, kind: Any, data: dict[str, Any], files: list[RecordedFile]
    ) -> dict[str, Any] | None:
        """Carries out one callback type; returns the ``resource`` Discord reports."""
        component = interaction.type in (3, 5)
        if kind in (4, 5):
            loading = kind == 5
            if not loading:
                self._messages.check_body(data, files, prefix=["data"])
            base = self._messages.base(
                interaction.channel_id, "" if loading else data.get("content") or "",
                self.bot_user, None if loading else data.get("embeds"),
            )
            if not loading:
                base["attachments"] = self._messages.attachments_from(data, files)
            message = interaction.complete_message(
                base, {} if loading else data, loading=loading,
                flags=int(data.get("flags") or 0),
            )
            self._messages.add_mentions(message, [])
            await self._publish(message)
            interaction.original_message_id = int(message["id"])
            interaction.loading = loading
            return {"type": kind, "message": self.world.render(message, intent=True)}
        if kind == 7 and component and interaction.original_message_id is not None:
            message = self.world.find(interaction.original_message_id)
            if message is not None:
                fake = RecordedRequest("PATCH", "", data, {}, {}, files)
                await self._edit(message, fake, prefix=["data"])
                return {"type": 7, "message": self.world.render(message, intent=True)}
        if kind == 8 and len(data.get("choices") or []) > MAX_AUTOCOMPLETE_CHOICES:
            # "choices ... max 25" (Interaction Response Object, Autocomplete).
            raise form_error(["data", "choices"], "BASE_TYPE_MAX_LENGTH",
                             "Must be 25 or fewer in length.")
        allowed = {6: component, 8: interaction.type == 4, 9: interaction.type in (2, 3),
                   1: interaction.type == 1}
        if allowed.get(kind):
            return None
        raise form_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")

    def _interaction_by_token(self, p: Params) -> Interaction:
        found = next((i for i in self.interactions.values() if i.token == p["token"]), None)
        if found is None or int(p["app"]) != APPLICATION_ID or found.acknowledged is None:
            raise unknown("Webhook", 10015)
        if asyncio.get_running_loop().time() - found.acknowledged > self.followup_window:
            raise api_error(401, 50027, "Invalid Webhook Token")
        return found

    async def _followup(self, req: RecordedRequest, p: Params) -> Reply:
        interaction = self._interaction_by_token(p)
        body = req.json or {}
        self._messages.check_body(body, req.files)
        original = interaction.original_message()
        if interaction.loading and original is not None:
            await self._edit(original, req)  # the first followup fills the "thinking" message
            interaction.loading = False
            message = original
        else:
            base = self._messages.base(
                interaction.channel_id, body.get("content") or "", self.bot_user,
                body.get("embeds"),
            )
            base["attachments"] = self._messages.attachments_from(body, req.files)
            message = interaction.complete_message(base, body, loading=False, flags=None)
            self._messages.add_mentions(message, [])
            await self._publish(message)
        interaction.followups.append(body)
        self._changes.notify()
        if req.query.get("wait", "").lower() not in ("1", "true"):
            return 204, None
        return 200, self.world.render(message, intent=True)

    def _hook_message(self, p: Params) -> tuple[Interaction, dict[str, Any]]:
        interaction = self._interaction_by_token(p)
        if p["message"] == "@original":
            message_id = interaction.original_message_id
        else:
            message_id = int(p["message"])
            if message_id not in interaction.message_ids:
                message_id = None
        message = None if message_id is None else self.world.find(message_id)
        if message is None:
            raise unknown("Message", 10008)
        return interaction, message

    async def _get_hook_message(self, req: RecordedRequest, p: Params) -> Reply:
        _, message = self._hook_message(p)
        return 200, self.world.render(message, intent=True)

    async def _patch_hook_message(self, req: RecordedRequest, p: Params) -> Reply:
        interaction, message = self._hook_message(p)
        await self._edit(message, req)
        if int(message["id"]) == interaction.original_message_id:
            interaction.loading = False
        if p["message"] == "@original":
            interaction.followups.append(req.json or {})
        else:
            interaction.edits.append(req.json or {})
        self._changes.notify()
        return 200, self.world.render(message, intent=True)

    async def _delete_hook_message(self, req: RecordedRequest, p: Params) -> Reply:
        _, message = self._hook_message(p)
        await self._delete(message)
        return 204, None


