"""The Gateway half of the Discord stand-in: an aiohttp websocket speaking gateway v10.

Covered: HELLO; IDENTIFY → READY (guilds unavailable, ``session_id``,
``resume_gateway_url``, ``application``, ``shard``) then one GUILD_CREATE per guild of the
identifying shard; heartbeats (op 1 → op 11); RESUME (op 6) → replay of the events after the
client's ``seq`` then RESUMED, or INVALID_SESSION (op 9, ``d: false``) for an unknown or
finished session; REQUEST_GUILD_MEMBERS (op 8) → one GUILD_MEMBERS_CHUNK; presence (op 3)
and voice (op 4) updates are accepted and ignored.

Frames are always uncompressed JSON text, whatever ``compress`` the URL asks for: discord.py
accepts text frames in every mode.

Close codes as Discord uses them: 4002 (undecodable payload), 4003 (not authenticated),
4004 (bad token), 4005 (already authenticated), 4010 (invalid shard), 4013 (missing
intents) and, when the stand-in is told to enforce it, 4014 (privileged intent not granted).

Sessions: every IDENTIFY opens a session with its own ``seq`` and a replay buffer. An event
for a guild goes to the newest live session of that guild's shard (DMs: shard 0); when that
shard has no live session the event is queued on its newest resumable session and replayed
on RESUME. A session the client closes with 1000/1001 is finished and cannot be resumed
(discord.py 2.7 actually closes with 4000 even on ``Client.close()``, so its sessions stay
resumable, as they would on Discord). Faults: :meth:`Gateway.drop` (close 4000 or a TCP
abort), :meth:`Gateway.reconnect_request` (op 7), :meth:`Gateway.invalidate` (op 9).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from tests.standins.discord_world import (
    INTENT_MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
    World,
)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

_CLEAN_CLOSE_CODES = (1000, 1001)

Payload = dict[str, Any] | Callable[["Session"], dict[str, Any]]
T = TypeVar("T")


class Changes:
    """A broadcast "something changed" signal for test-side waiters."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """Set at the next :meth:`notify`, for waiters outside the stand-in."""
        return self._event

    async def until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Re-evaluates ``check`` after every change until it returns a non-None value."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._event
                    result = check()
                    if result is not None:
                        return result
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    session: Session | None = None
    dropped: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: dict[str, Any] | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        async with self.lock:
            await self.ws.send_str(text)


@dataclass(eq=False)
class Session:
    """One gateway session (one IDENTIFY), resumable until the client closes it cleanly."""

    session_id: str
    token: str
    shard_id: int
    shard_count: int
    intents: int
    identify: dict[str, Any]
    order: int
    seq: int = 0
    buffer: list[tuple[int, str]] = field(default_factory=list)
    conn: Connection | None = None
    ready: bool = False
    finished: bool = False
    resumes: int = 0
    guild_ids: list[int] = field(default_factory=list)
    dispatched: list[dict[str, Any]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def live(self) -> bool:
        return self.conn is not None and not self.finished

    @property
    def shard(self) -> tuple[int, int]:
        return self.shard_id, self.shard_count

    def has_intent(self, intent: int) -> bool:
        return bool(self.intents & intent)

    async def _write(self, event: str, data: dict[str, Any]) -> None:
        """Assigns the next ``s``, buffers the event for RESUME, and writes it if connected."""
        self.seq += 1
        text = json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})
        self.buffer.append((self.seq, text))
        self.dispatched.append({"t": event, "s": self.seq, "d": data})
        if self.conn is None:
            return
        try:
            await self.conn.send(text)
        except (ConnectionError, RuntimeError):
            self.conn = None  # the buffered copy is replayed on RESUME


class Gateway:
    """Accepts gateway websockets and routes dispatched events to sessions."""

    def __init__(
        self,
        world: World,
        *,
        token: str,
        application_flags: int,
        content_intent_granted: bool,
        reject_disallowed_intents: bool,
        heartbeat_interval: float,
        changes: Changes,
    ) -> None:
        self.world = world
        self.token = token
        self.application_flags = application_flags
        self.content_intent_granted = content_intent_granted
        self.reject_disallowed_intents = reject_disallowed_intents
        self.heartbeat_interval = heartbeat_interval
        self.changes = changes
        self.url = ""
        self.sessions: list[Session] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.resume_count = 0
        self.replayed_events = 0
        self.connections = 0
        self._open: set[Connection] = set()

    # -- routing ---------------------------------------------------------------------------

    def session_for(self, guild_id: int | None) -> Session | None:
        """The newest live session of the guild's shard, else its newest resumable one."""
        candidates = [
            s for s in self.sessions
            if not s.finished and s.ready
            and self.world.shard_of(guild_id, s.shard_count) == s.shard_id
        ]
        live = [s for s in candidates if s.live]
        pool = live or candidates
        return max(pool, key=lambda s: s.order) if pool else None

    async def dispatch(
        self, event: str, payload: Payload, *, guild_id: int | None, intent: int = 0
    ) -> dict[str, Any] | None:
        """Sends one event to the session that should get it; returns the data sent, or
        None when no session takes it (nobody connected, or the intent was not requested)."""
        session = self.session_for(guild_id)
        if session is None or (intent and not session.has_intent(intent)):
            return None
        data = payload(session) if callable(payload) else payload
        async with session.lock:
            await session._write(event, data)
        self.changes.notify()
        return data

    def content_intent(self, session: Session | None) -> bool:
        """Whether ``session`` (or, for REST, the newest session) sees message content."""
        if not self.content_intent_granted:
            return False
        if session is None:
            live = [s for s in self.sessions if not s.finished]
            if not live:
                return True
            session = max(live, key=lambda s: s.order)
        return session.has_intent(INTENT_MESSAGE_CONTENT)

    def ready_sessions(self, shard_ids: Iterable[int] | None = None) -> list[Session] | None:
        """One live, ready session per wanted shard (all shards by default), or None."""
        live = [s for s in self.sessions if s.live and s.ready]
        if not live:
            return None
        shard_count = max(live, key=lambda s: s.order).shard_count
        wanted = range(shard_count) if shard_ids is None else list(shard_ids)
        found: list[Session] = []
        for shard_id in wanted:
            matches = [s for s in live if s.shard == (shard_id, shard_count)]
            if not matches:
                return None
            found.append(max(matches, key=lambda s: s.order))
        return found

    # -- connection handling ---------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, timeout=2.0, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.connections += 1
        self._open.add(conn)
        self.changes.notify()
        close_code: int | None = None
        try:
            await conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval}})
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                await self._receive(conn, message.data)
            close_code = ws.close_code
        except (ConnectionError, asyncio.CancelledError):
            close_code = None
        finally:
            self._open.discard(conn)
            self._detach(conn, close_code)
        return ws

    def _detach(self, conn: Connection, close_code: int | None) -> None:
        session = conn.session
        if session is not None and session.conn is conn:
            session.conn = None
            if close_code in _CLEAN_CLOSE_CODES and not conn.dropped:
                session.finished = True
        self.changes.notify()

    async def _receive(self, conn: Connection, text: str) -> None:
        try:
            message = json.loads(text)
            op = message["op"]
        except (ValueError, KeyError, TypeError):
            await conn.ws.close(code=4002, message=b"Error while decoding payload.")
            return
        data = message.get("d")
        if op == OP_HEARTBEAT:
            await conn.send({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data)
        elif op == OP_RESUME:
            await self._resume(conn, data)
        elif conn.session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
        elif op == OP_REQUEST_MEMBERS:
            await self._member_chunk(conn.session, data)
        # OP_PRESENCE, OP_VOICE_STATE and anything else: accepted, ignored.

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        self.identify_payloads.append(data)
        self.changes.notify()
        shard_id, shard_count = data.get("shard") or (0, 1)
        intents = data.get("intents")
        problem = None
        if data.get("token") != self.token:
            problem = (4004, b"Authentication failed.")
        elif not (0 <= shard_id < shard_count):
            problem = (4010, b"Invalid shard.")
        elif intents is None:
            problem = (4013, b"Invalid intent(s).")
        elif self.reject_disallowed_intents and intents & PRIVILEGED_INTENTS & ~self._granted():
            problem = (4014, b"Disallowed intent(s).")
        if problem is not None:
            await conn.ws.close(code=problem[0], message=problem[1])
            return
        session = Session(
            session_id=secrets.token_hex(16), token=data["token"], shard_id=shard_id,
            shard_count=shard_count, intents=intents, identify=data, order=len(self.sessions),
        )
        self.sessions.append(session)
        async with session.lock:
            session.conn = conn
            conn.session = session
            await session._write("READY", self._ready_payload(session))
            for guild_id in self.world.guild_ids_for_shard(shard_id, shard_count):
                session.guild_ids.append(guild_id)
                await session._write("GUILD_CREATE", self.world.guild_create(guild_id))
            session.ready = True
        self.changes.notify()

    def _granted(self) -> int:
        granted = PRIVILEGED_INTENTS
        if not self.content_intent_granted:
            granted &= ~INTENT_MESSAGE_CONTENT
        return granted

    def _ready_payload(self, session: Session) -> dict[str, Any]:
        guild_ids = self.world.guild_ids_for_shard(session.shard_id, session.shard_count)
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.world.bot_self,
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": str(self.world.bot_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east", "us-central"],
            "user_settings": {},
            "auth": {},
            "_trace": ["[\"discord-standin\",{\"micros\":0}]"],
        }
        if "shard" in session.identify:
            ready["shard"] = [session.shard_id, session.shard_count]
        return ready

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        wanted = data.get("session_id")
        session = next((s for s in self.sessions if s.session_id == wanted), None)
        if session is None or session.finished or data.get("token") != session.token:
            await conn.send({"op": OP_INVALID_SESSION, "d": False})
            return
        since = data.get("seq") or 0
        async with session.lock:
            old = session.conn
            session.conn = conn
            conn.session = session
            if old is not None and old is not conn:
                old.session = None
                asyncio.get_running_loop().create_task(old.ws.close(code=4000))
            for seq, text in session.buffer:
                if seq > since:
                    self.replayed_events += 1
                    await conn.send(text)
            await session._write("RESUMED", {"_trace": ["[\"discord-standin\",{}]"]})
            session.resumes += 1
        self.resume_count += 1
        self.changes.notify()

    async def _member_chunk(self, session: Session, data: dict[str, Any]) -> None:
        guild_id = int(data["guild_id"])
        guild = self.world.guilds.get(guild_id)
        members = list(guild.members.values()) if guild else []
        wanted = data.get("user_ids")
        if wanted is not None:
            ids = {int(u) for u in (wanted if isinstance(wanted, list) else [wanted])}
            members = [m for m in members if int(m["user"]["id"]) in ids]
        query = (data.get("query") or "").lower()
        if query:
            members = [m for m in members if m["user"]["username"].startswith(query)]
        limit = data.get("limit") or 0
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild_id), "members": members, "chunk_index": 0, "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        async with session.lock:
            await session._write("GUILD_MEMBERS_CHUNK", chunk)

    # -- faults and shutdown ---------------------------------------------------------------

    async def drop(self, *, code: int | None = 4000, shard_id: int | None = None) -> int:
        """Cuts live sessions' sockets (all, or one shard's); returns how many were cut.

        The sessions stay resumable; events dispatched until the client RESUMEs are queued.
        ``code=None`` aborts the TCP connection without a close frame (like a network drop,
        discord.py sees 1006)."""
        dropped = 0
        for session in list(self.sessions):
            conn = session.conn
            if conn is None or session.finished:
                continue
            if shard_id is not None and session.shard_id != shard_id:
                continue
            async with session.lock:
                session.conn = None
                conn.dropped = True
                conn.session = None
            dropped += 1
            if code is None:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await conn.ws.close(code=code, message=b"stand-in dropped the connection")
        self.changes.notify()
        return dropped

    async def reconnect_request(self, shard_id: int | None = None) -> None:
        """Sends op 7 RECONNECT to live sessions (discord.py then closes and RESUMEs)."""
        for session in list(self.sessions):
            conn = session.conn
            if conn is not None and (shard_id is None or session.shard_id == shard_id):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await conn.send({"op": OP_RECONNECT, "d": None})

    async def invalidate(self, *, resumable: bool = False, shard_id: int | None = None) -> None:
        """Sends op 9 INVALID_SESSION to live sessions; unless ``resumable`` they are finished
        and discord.py IDENTIFYs again."""
        for session in list(self.sessions):
            conn = session.conn
            if conn is None or (shard_id is not None and session.shard_id != shard_id):
                continue
            if not resumable:
                session.finished = True
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.send({"op": OP_INVALID_SESSION, "d": resumable})
        self.changes.notify()

    async def close_all(self) -> None:
        for conn in list(self._open):
            conn.dropped = True
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=1001, message=b"stand-in stopping")
