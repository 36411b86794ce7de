"""A local stand-in for Discord: REST API v10 plus the Gateway, for an unmodified discord.py.

One aiohttp server on 127.0.0.1 (ephemeral port) serves ``/api/v10/...`` (REST, see
:mod:`tests.standins.discord_api`), ``/gateway`` (websocket, see
:mod:`tests.standins.discord_gateway`) and ``/attachments/...`` (attachment bytes, the CDN
of :mod:`tests.standins.discord_cdn`; ``attachment()`` hosts a file, ``cdn_files.served``
records every request).
``redirect()`` points discord.py's ``Route.BASE`` (used by the HTTP client, webhooks and
interaction responses alike) and ``DiscordWebSocket.DEFAULT_GATEWAY`` at it in this
process; ``subprocess_env()`` does the same for a child ``python -m bot`` through
``sitecustomize.py``. The seeded guilds, channels and users are in
:mod:`tests.standins.discord_world` (the ids and user dicts are re-exported here).

Injecting: ``send_message``, ``edit_message``, ``delete_message``, ``add_reaction``,
``remove_reaction``, ``slash_command``, ``click_component`` and raw ``dispatch`` return once
the event is written to the bot's socket (or queued for its RESUME). Observing:
``requests`` (every REST call), ``sent_messages()``, ``messages_in()``, ``wait_for()``,
``wait_for_messages()``, ``wait_until_ready()``, ``identify_payloads``, ``resume_count``,
``connections``, ``sessions``, and per interaction ``callbacks``/``followups``.

Message Content: without the intent (not in IDENTIFY's intents, or
``message_content_intent_granted=False``) messages arrive with blank content, embeds,
attachments and components — on the gateway and in REST reads — unless they are in a DM,
by the bot, or mention the bot. ``reject_disallowed_intents=True`` instead closes the
gateway with 4014 when a non-granted privileged intent is requested (discord.py raises
``PrivilegedIntentsRequired``). Events need their intent (GUILD_MESSAGES,
DIRECT_MESSAGES, GUILD_/DIRECT_MESSAGE_REACTIONS); interactions always arrive.

Faults: ``fail_next(method, path_regex, status, ...)`` answers the next calls whose path
(without ``/api/v10``) ``re.fullmatch``-es with that status (a 429 with ``retry_after`` makes
discord.py sleep and retry); ``hang_next(method, path_regex)`` never answers the next such
call (a network that swallows the request; it ends when the stand-in stops);
``deny_send(channel)`` makes sends and typing there 403 50013; ``deny_bot(channel,
permission)`` adds a channel overwrite denying the bot's role that permission (announced
with CHANNEL_UPDATE, or not, as when the bot's cache is behind); ``drop_connection()`` cuts
the gateway socket (discord.py RESUMEs);
``request_reconnect()`` sends op 7; ``invalidate_session()`` sends op 9.

Threads: the bot starts them from messages (see :mod:`tests.standins.discord_api`);
``archive_thread(thread)`` archives one (THREAD_UPDATE), and a user's message in an
archived, unlocked thread unarchives it first, as Discord does.

Not covered: voice, guild/channel/role management, private threads made through the API,
custom emojis, polls, forwards, audit logs, OAuth2 flows, autocomplete suggestions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from tests.standins.discord_api import DiscordApi
from tests.standins.discord_gateway import Session
from tests.standins.discord_interactions import Interaction, command_data, resolve_target
from tests.standins.discord_rest import HANG, Fault, RecordedFile, RecordedRequest
from tests.standins.discord_world import (
    ALICE,
    ALICE_ID,
    APPLICATION_ID,
    BETA_CHANNEL,
    BOB,
    BOB_ID,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    CAROL,
    CAROL_ID,
    CHAT_CHANNEL,
    CHAT_THREAD,
    DM_ALICE,
    DM_BOB,
    DM_CAROL,
    FLAG_LOADING,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
    OTHER_BOT,
    OTHER_BOT_ID,
    THREAD,
    World,
    iso,
    user_dict,
    webhook_author,
)
from tests.standins.lifecycle import StandIn, abort_connections

__all__ = [
    "ALICE", "ALICE_ID", "APPLICATION_ID", "BETA_CHANNEL", "BOB", "BOB_ID", "BOT_ID",
    "BOT_TOKEN", "BOT_USER", "CAROL", "CAROL_ID", "CHAT_CHANNEL", "CHAT_THREAD", "DM_ALICE",
    "DM_BOB", "DM_CAROL", "GENERAL_CHANNEL", "GUILD_A", "GUILD_B", "OTHER_BOT", "OTHER_BOT_ID",
    "THREAD", "DiscordStandIn", "Interaction", "RecordedFile", "RecordedRequest", "World",
    "fast_startup", "user_dict",
]

T = TypeVar("T")

STANDINS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = STANDINS_DIR.parent.parent


def fast_startup(client: discord.Client, *, guild_ready_timeout: float = 0.05) -> None:
    """Test speed-ups on an unmodified client: no 2 s wait for GUILD_CREATEs before
    ``on_ready`` and no 5 s sleep before each non-first IDENTIFY (shards, re-identify)."""
    client._connection.guild_ready_timeout = guild_ready_timeout

    async def no_wait(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    client.before_identify_hook = no_wait  # type: ignore[method-assign]


class DiscordStandIn(DiscordApi, StandIn):
    """Discord's REST API and Gateway on 127.0.0.1; see the module docstring.

    Options: ``message_content_intent_granted`` (the portal switch; also sets the
    application's ``GATEWAY_MESSAGE_CONTENT_LIMITED`` flag), ``reject_disallowed_intents``
    (close 4014 instead of blanking content), ``interaction_deadline`` (3 s),
    ``followup_window`` (15 min), ``heartbeat_interval`` (seconds, 41.25),
    ``recommended_shards`` (``GET /gateway/bot``), ``token``, ``rate_limits`` (Discord's
    global and per-channel REST limits, see :mod:`tests.standins.discord_ratelimits`).
    """

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        self.cdn_files.mount(app)
        app.router.add_route("*", "/api/v{version:\\d+}/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.gateway.url = self.gateway_url
        self.cdn_files.base_url = f"http://127.0.0.1:{self._port}"

    async def stop(self) -> None:
        if self._runner is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                await self.gateway.close_all()
        abort_connections(self._runner)
        await self._runner.cleanup()
        self._runner = None

    @contextlib.contextmanager
    def redirect(self) -> Iterator[Self]:
        """Points discord.py (REST, webhooks, interactions, gateway) here; restores on exit."""
        route = discord.http.Route
        websocket = discord.gateway.DiscordWebSocket
        old = route.BASE, websocket.DEFAULT_GATEWAY
        route.BASE = self.api_base
        websocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            route.BASE, websocket.DEFAULT_GATEWAY = old

    def subprocess_env(self, *, fast: bool = True) -> dict[str, str]:
        """Variables for a child process, to merge into ``os.environ``: ``PYTHONPATH`` puts
        ``sitecustomize.py`` first, which redirects discord.py to ``DISCORD_STANDIN_API`` and
        ``DISCORD_STANDIN_GATEWAY``; ``fast`` also applies :func:`fast_startup` to every
        client (``DISCORD_STANDIN_FAST=1``)."""
        paths = [str(STANDINS_DIR), str(PROJECT_ROOT)]
        existing = os.environ.get("PYTHONPATH")
        if existing:
            paths.append(existing)
        return {
            "PYTHONPATH": os.pathsep.join(paths),
            "DISCORD_STANDIN_API": self.api_base,
            "DISCORD_STANDIN_GATEWAY": self.gateway_url,
            "DISCORD_STANDIN_FAST": "1" if fast else "",
        }


    # -- observing -------------------------------------------------------------------------

    @property
    def identify_payloads(self) -> list[dict[str, Any]]:
        """The ``d`` of every IDENTIFY, rejected ones included."""
        return self.gateway.identify_payloads

    @property
    def resume_count(self) -> int:
        """Successful RESUMEs (answered with replay + RESUMED)."""
        return self.gateway.resume_count

    @property
    def connections(self) -> int:
        """Gateway websockets accepted so far."""
        return self.gateway.connections

    @property
    def sessions(self) -> list[Session]:
        """Every gateway session, oldest first (``shard_id``, ``live``, ``dispatched``...)."""
        return self.gateway.sessions

    def sent_messages(
        self, channel_id: int | None = None, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Messages the bot created (channel sends, interaction responses and followups,
        ephemeral ones included), in creation order, as stored now (after edits); deferred
        "thinking" placeholders appear once filled."""
        found = []
        for message_id in self._sent_ids:
            message = self.world.find(message_id)
            if message is None and include_deleted:
                message = self._deleted.get(message_id)
            if message is None or message["flags"] & FLAG_LOADING:
                continue
            if channel_id is None or int(message["channel_id"]) == channel_id:
                found.append(message)
        return found

    def messages_in(self, channel_id: int) -> list[dict[str, Any]]:
        """The channel's stored history (users' and the bot's), oldest first."""
        return list(self.world.messages.get(channel_id, []))

    def application_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The commands the bot synced, globally (None) or for one guild."""
        return list(self.commands.get(guild_id))

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,
        *,
        start: int = 0,
    ) -> RecordedRequest:
        """The first recorded request from index ``start`` on (past ones included) that
        matches, waiting for it if needed. Requests are recorded once answered."""

        def check() -> RecordedRequest | None:
            return next((r for r in self.requests[start:] if predicate(r)), None)

        return await self._changes.until(check, timeout, "a matching request")

    async def until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Re-evaluates ``check`` after every change the stand-in sees (a request, an
        event written) until it returns something other than None."""
        return await self._changes.until(check, timeout, what)

    def next_change(self) -> asyncio.Event:
        """Set at the stand-in's next change (what :meth:`until` wakes on): pass the method
        as ``changed=`` to ``tests.helpers.until``."""
        return self._changes.next_change()

    async def wait_for_messages(
        self, count: int, channel_id: int | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The first ``count`` of :meth:`sent_messages`, once there are that many."""

        def check() -> list[dict[str, Any]] | None:
            sent = self.sent_messages(channel_id)
            return sent[:count] if len(sent) >= count else None

        where = "" if channel_id is None else f" in channel {channel_id}"
        return await self._changes.until(check, timeout, f"{count} bot message(s){where}")

    async def wait_until_ready(
        self, timeout: float = 5.0, *, shard_ids: Iterable[int] | None = None
    ) -> list[Session]:
        """Until READY and the GUILD_CREATEs went out on a live session for every shard
        (of the newest session's shard count, or just ``shard_ids``)."""
        wanted = None if shard_ids is None else list(shard_ids)
        return await self._changes.until(
            lambda: self.gateway.ready_sessions(wanted), timeout, "a READY gateway session"
        )

    # -- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls whose method matches (``"*"``: any) and whose path
        (without ``/api/v10``) ``re.fullmatch``-es ``path_regex`` get this answer instead.
        Default bodies are Discord's; a 429 gets ``Retry-After``/``X-RateLimit-*`` headers."""
        fault = Fault.make(method, path_regex, status, body=body, headers=headers, times=times)
        self._faults.append(fault)

    def hang_next(self, method: str, path_regex: str, times: int = 1) -> None:
        """The next ``times`` matching calls get no answer at all (connection kept open)."""
        self._faults.append(Fault.make(method, path_regex, HANG, body={}, headers=None,
                                       times=times))

    def deny_send(self, channel_id: int) -> None:
        """Sends and typing in the channel answer 403 ``Missing Permissions`` (50013)."""
        self._denied.add(channel_id)

    def allow_send(self, channel_id: int) -> None:
        self._denied.discard(channel_id)

    async def deny_bot(self, channel_id: int, permission: int, *, announce: bool = True) -> None:
        """The channel denies the bot's role ``permission`` (an overwrite); ``announce``
        sends the CHANNEL_UPDATE Discord sends, so the bot's cache knows it too."""
        guild_id = self.world.guild_of(channel_id)
        assert guild_id is not None, "overwrites exist in guild channels only"
        channel = self.world.deny_role(channel_id, self.world.guilds[guild_id].bot_role_id,
                                       permission)
        if announce:
            await self.gateway.dispatch("CHANNEL_UPDATE", channel, guild_id=guild_id)

    async def archive_thread(self, thread_id: int, *, locked: bool = False) -> None:
        """The thread goes inactive (or a moderator archives it): THREAD_UPDATE."""
        metadata = self.world.channels[thread_id]["thread_metadata"]
        metadata.update(archived=True, locked=locked, archive_timestamp=iso())
        await self._thread_event("THREAD_UPDATE", self.world.channels[thread_id])

    async def drop_connection(
        self, *, code: int | None = 4000, shard_id: int | None = None
    ) -> None:
        """Closes the live gateway sockets (``code=None``: aborts TCP, like a network drop).
        Sessions stay resumable; events injected until discord.py RESUMEs are queued and
        replayed after its RESUME, followed by RESUMED."""
        await self.gateway.drop(code=code, shard_id=shard_id)

    async def request_reconnect(self, shard_id: int | None = None) -> None:
        """Sends op 7 RECONNECT, as Discord does before moving a session."""
        await self.gateway.reconnect_request(shard_id)

    async def invalidate_session(
        self, *, resumable: bool = False, shard_id: int | None = None
    ) -> None:
        """Sends op 9 INVALID_SESSION; with ``resumable=False`` the session ends and
        discord.py IDENTIFYs again (after ``before_identify_hook``, 5 s unless sped up)."""
        await self.gateway.invalidate(resumable=resumable, shard_id=shard_id)

    # -- injecting events ------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Any raw gateway event, to the session of ``data["guild_id"]``'s shard."""
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        await self.gateway.dispatch(event, data, guild_id=guild_id)

    def dm_channel(self, user_id: int) -> int:
        """The id of the DM channel with a user (created if needed)."""
        return int(self.world.dm_channel_for(user_id)["id"])

    async def send_message(
        self,
        channel_id: int,
        content: str = "",
        *,
        author: dict[str, Any] | None = None,
        mention_bot: bool = False,
        reply_to: int | None = None,
        ping_reply: bool = True,
        attachments: list[dict[str, Any]] | None = None,
        stickers: list[dict[str, Any]] | None = None,
        webhook_id: int | None = None,
        mention_everyone: bool = False,
        mentions: list[dict[str, Any]] | None = None,
        message_type: int = 0,
        embeds: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user (ALICE, or the DM's recipient, unless ``author``) posts. MESSAGE_CREATE is
        written to the bot's socket (or queued for RESUME) before this returns the payload.
        ``reply_to`` makes a reply (type 19) that pings the replied author unless
        ``ping_reply=False``; ``<@id>`` mentions in the content are parsed. ``webhook_id``
        posts through that webhook, as :func:`webhook_author` unless ``author`` is given."""
        if channel_id not in self.world.channels:
            raise ValueError(f"unknown channel {channel_id}")
        if webhook_id is not None:
            author = author or webhook_author(webhook_id)
        author = author or self.world.dm_recipient(channel_id) or ALICE
        await self._unarchive_for_message(channel_id)
        if mention_bot:
            content = f"<@{self.world.bot_id}> {content}".rstrip()
        message = self._messages.base(channel_id, content, author, embeds)
        message["type"] = message_type
        message["mention_everyone"] = mention_everyone
        extra = [dict(user) for user in mentions or []]
        if reply_to is not None:
            referenced = self._stored(channel_id, reply_to)
            message["type"] = 19
            message["message_reference"] = self._messages.reference(channel_id, reply_to)
            if ping_reply and referenced["author"]["id"] != author["id"]:
                extra.append(dict(referenced["author"]))
        self._messages.add_mentions(message, extra)
        message["attachments"] = [
            self._messages.complete_attachment(a) for a in attachments or []
        ]
        if stickers:
            message["sticker_items"] = stickers
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
        self.world.store(message)
        return await self._dispatch_message("MESSAGE_CREATE", message)

    async def edit_message(self, channel_id: int, message_id: int, content: str) -> dict[str, Any]:
        """A user edits their message: MESSAGE_UPDATE with the full message."""
        message = self._stored(channel_id, message_id)
        message["content"] = content
        message["edited_timestamp"] = iso()
        message["mentions"] = []
        self._messages.add_mentions(message, [])
        return await self._dispatch_message("MESSAGE_UPDATE", message)

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        """A message disappears (its author or a moderator deleted it): MESSAGE_DELETE."""
        await self._delete(self._stored(channel_id, message_id))

    async def add_reaction(
        self, channel_id: int, message_id: int, emoji: str, *, user: dict[str, Any]
    ) -> dict[str, Any]:
        """``user`` reacts (``"👍"`` or ``"name:id"``): MESSAGE_REACTION_ADD, with
        ``member`` in guilds and ``message_author_id``."""
        return await self._react(self._stored(channel_id, message_id), emoji, user, add=True)

    async def remove_reaction(
        self, channel_id: int, message_id: int, emoji: str, *, user: dict[str, Any]
    ) -> dict[str, Any]:
        """``user`` takes a reaction back: MESSAGE_REACTION_REMOVE."""
        return await self._react(self._stored(channel_id, message_id), emoji, user, add=False)

    async def slash_command(
        self,
        name: str,
        options: dict[str, object] | list[dict[str, Any]] | None = None,
        *,
        user: dict[str, Any] | None = None,
        channel_id: int = GENERAL_CHANNEL,
        guild_id: int | None = GUILD_A,
    ) -> Interaction:
        """INTERACTION_CREATE type 2 for ``/name`` (``"group sub"`` for subcommands). A dict
        of options is typed from the synced command's schema (unknown names by Python type);
        a list is sent as given. The command id is the synced one (else a made-up one). For
        a channel the stand-in knows, the guild is the channel's (None for a DM); ``guild_id``
        only counts for unknown channels."""
        if channel_id in self.world.channels:
            guild_id = self.world.guild_of(channel_id)
        data = command_data(self.commands, name, options, guild_id)
        return await self._interact(2, data, user or ALICE, channel_id, guild_id)

    async def context_menu(
        self,
        name: str,
        target_id: int,
        *,
        kind: int,
        user: dict[str, Any] | None = None,
        channel_id: int = GENERAL_CHANNEL,
    ) -> Interaction:
        """INTERACTION_CREATE type 2 for a context-menu command: ``kind`` 2 (USER) on a
        user, 3 (MESSAGE) on a stored message. Per Discord's "User Commands" and "Message
        Commands" docs (Interactions → Application Commands) the data carries ``target_id``
        and the target in ``resolved`` (``users`` and, in a guild, ``members``; or
        ``messages``), and no options."""
        guild_id = self.world.guild_of(channel_id)
        command = next((c for scope in (guild_id, None) for c in self.commands.get(scope)
                        if (c["name"], c.get("type", 1)) == (name, kind)), None)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.commands.fabricated_id(name)),
            "name": name, "type": kind, "target_id": str(target_id),
        }
        if kind == 3:
            message = self.world.find(target_id)
            if message is None:
                raise ValueError(f"unknown message {target_id}")
            data["resolved"] = {"messages": {str(target_id): self.world.render(message,
                                                                              intent=True)}}
        else:
            resolved: dict[str, dict[str, Any]] = {}
            resolve_target(self.world, 6, target_id, guild_id, resolved)
            data["resolved"] = resolved
        return await self._interact(2, data, user or ALICE, channel_id, guild_id)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, object],
        focused: str,
        *,
        user: dict[str, Any] | None = None,
        channel_id: int = GENERAL_CHANNEL,
    ) -> Interaction:
        """INTERACTION_CREATE type 4 (APPLICATION_COMMAND_AUTOCOMPLETE) while ``user`` types
        ``options[focused]`` into ``/name``: the option carries ``focused: true`` and its
        partial value as a string, whatever the option's type (Discord's "Autocomplete"
        docs, https://discord.com/developers/docs/interactions/application-commands#autocomplete).
        The bot answers with callback type 8 and at most 25 choices."""
        guild_id = self.world.guild_of(channel_id)
        data = command_data(self.commands, name, options, guild_id)
        container = data
        while container.get("options") and container["options"][0].get("type") in (1, 2):
            container = container["options"][0]
        for option in container.get("options", []):
            if option["name"] == focused:
                option["focused"] = True
                option["value"] = str(option["value"])
        return await self._interact(4, data, user or ALICE, channel_id, guild_id)

    async def click_component(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: dict[str, Any] | None = None,
        channel_id: int | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
    ) -> Interaction:
        """INTERACTION_CREATE type 3: ``user`` clicks a button (or picks ``values``) on a
        stored message; ``@original`` then means that message."""
        message = self.world.find(message_id)
        if message is None:
            raise ValueError(f"unknown message {message_id}")
        channel_id = channel_id or int(message["channel_id"])
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        interaction = await self._interact(
            3, data, user or ALICE, channel_id, self.world.guild_of(channel_id),
            message=self.world.render(message, intent=True),
        )
        interaction.original_message_id = message_id
        return interaction

