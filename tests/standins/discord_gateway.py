"""The Gateway half of the Discord stand-in: an aiohttp websocket speaking gateway v10.

Covered: HELLO; IDENTIFY → READY (guilds unavailable, ``session_id``,
``resume_gateway_url``, ``application``, ``shard``) then one GUILD_CREATE per guild of the
identifying shard; heartbeats (op 1 → op 11); RESUME (op 6) → replay of the events after the
client's ``seq`` then RESUMED, or INVALID_SESSION (op 9, ``d: false``) for an unknown or
finished session; REQUEST_GUILD_MEMBERS (op 8) → one GUILD_MEMBERS_CHUNK; presence (op 3)
and voice (op 4) updates are accepted and ignored.

Frames are always uncompressed JSON text, whatever ``compress`` the URL asks for: discord.py
accepts text frames in every mode.

Close codes as Discord uses them ("Opcodes and Status Codes" → "Gateway Close Event
Codes"): 4002 (undecodable payload), 4003 (not authenticated), 4004 (bad token), 4005
(already authenticated), 4010 (invalid shard), 4013 (missing intents) and 4014 (a
privileged intent requested that the portal does not grant; on by default, as on Discord).

Delivery: each connection has one outbound queue and one writer task (:class:`Connection`),
so dispatching, and the REST calls whose effects are dispatched, never wait on a socket; a
consumer that falls behind is cut off and resumes. Per-session memory is bounded (the
replay buffer keeps the last events only).

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
import json
import secrets
from collections import deque
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
OUTBOUND_LIMIT = 2_000  # frames queued for one connection before it is cut off
RESUME_BUFFER = 2_000  # events kept per session for RESUME
DISPATCHED_KEPT = 200  # events kept per session for tests to inspect

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


class Connection:
    """One gateway websocket: an outbound queue and the one task that writes it.

    Nothing that dispatches ever waits on the socket: :meth:`send` queues the frame and
    returns. A client that reads slower than events arrive lets the queue grow; past
    ``limit`` frames it is cut off as Discord cuts off a consumer that falls behind (the
    socket is closed with 4000, which the docs' close-code table marks "reconnect: true",
    or aborted if even the close frame cannot be written), and its session stays
    resumable, so the client RESUMEs and gets the gap replayed ("Gateway" → "Resuming").
    """

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, *, limit: int,
        on_cut_off: Callable[[Connection], None],
    ) -> None:
        self.ws = ws
        self.request = request
        self.limit = limit
        self.session: Session | None = None
        self.dropped = False
        self.cut_off = False
        self._on_cut_off = on_cut_off
        self._queue: deque[str] = deque()
        self._ready = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write())

    @property
    def queued(self) -> int:
        return len(self._queue)

    def send(self, payload: dict[str, Any] | str, *, replay: bool = False) -> None:
        """Queue a frame. A RESUME's replay is queued whole (the replay buffer bounds it);
        the bound is for live events outrunning the reader."""
        if self.cut_off or self.ws.closed:
            return
        if len(self._queue) >= self.limit and not replay:
            self._cut_off()
            return
        self._queue.append(payload if isinstance(payload, str) else json.dumps(payload))
        self._ready.set()

    async def _write(self) -> None:
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            text = self._queue.popleft()
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self._queue.clear()
                return

    def _cut_off(self) -> None:
        self.cut_off = True
        self._queue.clear()
        self._writer.cancel()
        self._on_cut_off(self)
        asyncio.get_running_loop().create_task(self.close(4000, b"Too slow: reconnect."))

    async def close(self, code: int, message: bytes) -> None:
        """Close with ``code``; abort the TCP connection if the close frame is stuck."""
        try:
            async with asyncio.timeout(1.0):
                await self.ws.close(code=code, message=message)
        except (TimeoutError, ConnectionError, RuntimeError):
            transport = self.request.transport
            if transport is not None:
                transport.abort()

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def stop_writing(self) -> None:
        self._writer.cancel()


@dataclass(eq=False)
class Session:
    """One gateway session (one IDENTIFY), resumable until the client closes it cleanly.

    ``buffer`` keeps the last :data:`RESUME_BUFFER` events for RESUME, and ``dispatched``
    the last :data:`DISPATCHED_KEPT` for tests, so a long run's memory stays flat; a
    RESUME from further back than the buffer is refused with INVALID_SESSION, as Discord
    refuses a session it can no longer replay."""

    session_id: str
    token: str
    shard_id: int
    shard_count: int
    intents: int
    identify: dict[str, Any]
    order: int
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=RESUME_BUFFER))
    conn: Connection | None = None
    ready: bool = False
    finished: bool = False
    resumes: int = 0
    guild_ids: list[int] = field(default_factory=list)
    dispatched: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=DISPATCHED_KEPT))

    @property
    def live(self) -> bool:
        return self.conn is not None and not self.finished

    @property
    def shard(self) -> tuple[int, int]:
        return self.shard_id, self.shard_count

    def has_intent(self, intent: int) -> bool:
        return bool(self.intents & intent)

    def can_replay(self, since: int) -> bool:
        oldest = self.buffer[0][0] if self.buffer else self.seq + 1
        return since + 1 >= oldest

    def write(self, event: str, data: dict[str, Any], *, replay: bool = False) -> None:
        """Assigns the next ``s``, buffers the event for RESUME, and queues it if connected
        (``replay``: as part of a RESUME's answer, see :meth:`Connection.send`)."""
        self.seq += 1
        text = json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})
        self.buffer.append((self.seq, text))
        self.dispatched.append({"t": event, "s": self.seq, "d": data})
        if self.conn is not None:
            self.conn.send(text, replay=replay)


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
        outbound_limit: int = OUTBOUND_LIMIT,
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
        self.outbound_limit = outbound_limit
        self.cut_offs = 0
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
        session.write(event, data)
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
        conn = Connection(ws, request, limit=self.outbound_limit, on_cut_off=self._cut_off)
        self.connections += 1
        self._open.add(conn)
        self.changes.notify()
        close_code: int | None = None
        try:
            conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval}})
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                await self._receive(conn, message.data)
            close_code = ws.close_code
        except (ConnectionError, asyncio.CancelledError):
            close_code = None
        finally:
            conn.stop_writing()
            self._open.discard(conn)
            self._detach(conn, close_code)
        return ws

    def _cut_off(self, conn: Connection) -> None:
        """A consumer fell behind: its session loses the socket but stays resumable."""
        self.cut_offs += 1
        session = conn.session
        if session is not None and session.conn is conn:
            session.conn = None
        conn.dropped = True
        conn.session = None
        self.changes.notify()

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
            conn.send({"op": OP_HEARTBEAT_ACK})
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
        session.conn = conn
        conn.session = session
        session.write("READY", self._ready_payload(session))
        for guild_id in self.world.guild_ids_for_shard(shard_id, shard_count):
            session.guild_ids.append(guild_id)
            session.write("GUILD_CREATE", self.world.guild_create(guild_id))
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
        since = data.get("seq") or 0
        if (session is None or session.finished or data.get("token") != session.token
                or not session.can_replay(since)):
            conn.send({"op": OP_INVALID_SESSION, "d": False})
            return
        old = session.conn
        session.conn = conn
        conn.session = session
        if old is not None and old is not conn:
            old.session = None
            asyncio.get_running_loop().create_task(old.close(4000, b"Session resumed elsewhere."))
        for seq, text in session.buffer:
            if seq > since:
                self.replayed_events += 1
                conn.send(text, replay=True)
        session.write("RESUMED", {"_trace": ["[\"discord-standin\",{}]"]}, replay=True)
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
        session.write("GUILD_MEMBERS_CHUNK", chunk)

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
            session.conn = None
            conn.dropped = True
            conn.session = None
            dropped += 1
            if code is None:
                conn.abort()
            else:
                await conn.close(code, b"stand-in dropped the connection")
        self.changes.notify()
        return dropped

    async def reconnect_request(self, shard_id: int | None = None) -> None:
        """Sends op 7 RECONNECT to live sessions (discord.py then closes and RESUMEs)."""
        for session in list(self.sessions):
            conn = session.conn
            if conn is not None and (shard_id is None or session.shard_id == shard_id):
                conn.send({"op": OP_RECONNECT, "d": None})

    async def invalidate(self, *, resumable: bool = False, shard_id: int | None = None) -> None:
        """Sends op 9 INVALID_SESSION to live sessions; unless ``resumable`` they are finished
        and discord.py IDENTIFYs again."""
        for session in list(self.sessions):
            conn = session.conn
            if conn is None or (shard_id is not None and session.shard_id != shard_id):
                continue
            if not resumable:
                session.finished = True
            conn.send({"op": OP_INVALID_SESSION, "d": resumable})
        self.changes.notify()

    async def close_all(self) -> None:
        for conn in list(self._open):
            conn.dropped = True
            await conn.close(1001, b"stand-in stopping")
