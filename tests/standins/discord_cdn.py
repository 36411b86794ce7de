"""A stand-in for Discord's attachment CDN (``cdn.discordapp.com/attachments/...``).

What it copies from Discord:

* Paths ``/attachments/{channel_id}/{attachment_id}/{filename}`` with the signed query
  Discord added in 2024 (discord-api-docs, Reference, "Signed Attachment CDN URLs"):
  ``ex`` (expiry, hex Unix seconds), ``is`` (issued, hex) and ``hm`` (a signature). A missing,
  wrong or expired signature is 403 with the body ``This content is no longer available.``,
  as the real CDN answers (reported in igolaizola/bulkai#78), so a client must fetch the URL
  exactly as the attachment object gives it. An unknown path is 404.
* Bodies served with the file's real ``Content-Type`` and, by default, an exact
  ``Content-Length``.
* Attachment objects (the Message resource's "Attachment Object": ``id``, ``filename``,
  ``size``, ``url``, ``proxy_url``, ``content_type``) pointing at those URLs.

What it adds, to prove a client's limits: a body far larger than the attachment's ``size``
(generated on the fly, never held in memory), sent chunked or under a ``Content-Length``
chosen by the test; and a slow body (one chunk, then a pause, and so on). Every request is
recorded as a :class:`Served` with the body bytes the server managed to write, so a test can
show that a client stopped reading: the server cannot write much past what the client's
socket buffers hold once the client stops reading and closes.

Mounting: :meth:`DiscordCdn.mount` adds the route to any aiohttp application (the Discord
stand-in's, or the small :class:`DiscordCdnStandIn` server here); set :attr:`base_url`
once the port is known.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.standins.discord_world import attachment_dict
from tests.standins.lifecycle import StandIn, serve_locally, stop_serving

GONE = "This content is no longer available."
_SECRET = b"standin-cdn-signing-key"
_LIFETIME = 24 * 3600
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Hosted:
    data: bytes
    content_type: str | None
    body_size: int
    """Bytes actually served: ``len(data)``, or more (``data`` then filler) for a file
    that is larger than its attachment object says."""
    length: int | Literal["exact", "chunked"]
    drip: float
    chunk: int


@dataclass(slots=True)
class Served:
    path: str
    status: int
    bytes_written: int = 0
    finished: bool = False
    aborted: bool = False


@dataclass(slots=True)
class DiscordCdn:
    """The files and the request log; serve them with :meth:`handle` once mounted."""

    base_url: str = ""
    files: dict[str, Hosted] = field(default_factory=dict)
    served: list[Served] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_200_000_000))

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/attachments/{channel}/{attachment}/{filename}", self.handle)

    def host(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        attachment_id: int | None = None,
        size: int | None = None,
        body_size: int | None = None,
        length: int | Literal["exact", "chunked"] = "exact",
        drip: float = 0.0,
        chunk: int = _CHUNK,
    ) -> dict[str, Any]:
        """Host ``data`` and return its attachment object.

        ``size`` is what the attachment object claims (default: ``len(data)``);
        ``body_size`` how many bytes are really served (default: ``len(data)``);
        ``length`` the ``Content-Length`` sent: exact, none (chunked), or any number;
        ``drip`` seconds of pause after each ``chunk`` bytes.
        """
        if not self.base_url:
            raise RuntimeError("DiscordCdn.base_url is not set (is the server started?)")
        attachment_id = attachment_id if attachment_id is not None else next(self._ids)
        path = f"/attachments/{channel_id}/{attachment_id}/{filename}"
        self.files[path] = Hosted(
            data, content_type, max(body_size or 0, len(data)), length, drip, max(1, chunk)
        )
        url = f"{self.base_url}{path}?{_signature(path, int(time.time()))}"
        return attachment_dict(
            attachment_id, filename, size=len(data) if size is None else size, url=url,
            content_type=content_type,
        )

    def served_for(self, attachment: dict[str, Any]) -> list[Served]:
        """The requests for one attachment object's file, in arrival order."""
        path = attachment["url"].removeprefix(self.base_url).split("?", 1)[0]
        return [entry for entry in self.served if entry.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        hosted = self.files.get(path)
        if hosted is None:
            self.served.append(Served(path, 404, finished=True))
            return web.Response(status=404, text="Not Found")
        if not _signed(path, request.query):
            self.served.append(Served(path, 403, finished=True))
            return web.Response(status=403, text=GONE)
        entry = Served(path, 200)
        self.served.append(entry)
        response = web.StreamResponse(
            headers={"Content-Type": hosted.content_type or "application/octet-stream"}
        )
        if hosted.length == "exact":
            response.content_length = hosted.body_size
        elif hosted.length != "chunked":
            response.content_length = hosted.length
        else:
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            for piece in _body(hosted):
                await response.write(piece)
                entry.bytes_written += len(piece)
                if hosted.drip > 0:
                    await asyncio.sleep(hosted.drip)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            entry.aborted = True
            raise
        entry.finished = True
        return response


class DiscordCdnStandIn(StandIn):
    """:class:`DiscordCdn` on its own 127.0.0.1 server, for tests without the gateway."""

    def __init__(self) -> None:
        self.cdn = DiscordCdn()
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("DiscordCdnStandIn is not started")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application()
        self.cdn.mount(app)
        self._runner = await serve_locally(app)
        self.cdn.base_url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await stop_serving(self._runner)
        self._runner = None


def _body(hosted: Hosted) -> itertools.chain[bytes]:
    """``data``, then zero filler up to ``body_size``, in ``chunk``-byte pieces."""
    data, size, step = hosted.data, hosted.body_size, hosted.chunk
    filler = b"\0" * step
    head = (data[start:start + step] for start in range(0, len(data), step))
    tail = (filler[: min(step, size - start)] for start in range(len(data), size, step))
    return itertools.chain(head, tail)


def _mac(path: str, expires: str, issued: str) -> str:
    message = f"{path}|{expires}|{issued}".encode()
    return hmac.new(_SECRET, message, hashlib.sha256).hexdigest()


def _signature(path: str, now: int) -> str:
    expires, issued = f"{now + _LIFETIME:08x}", f"{now:08x}"
    return f"ex={expires}&is={issued}&hm={_mac(path, expires, issued)}&"


def _signed(path: str, query: Any) -> bool:
    expires, issued, mac = query.get("ex", ""), query.get("is", ""), query.get("hm", "")
    try:
        live = int(expires, 16) > time.time()
    except ValueError:
        return False
    return live and hmac.compare_digest(mac, _mac(path, expires, issued))
