"""A stand-in for the public web sites ``read_page`` visits: one aiohttp server on 127.0.0.1.

What it copies from the web (HTTP semantics, RFC 9110): pages with their ``Content-Type``;
redirects as ``302 Found`` with a ``Location`` header (section 15.4.3), relative or absolute;
bodies with a ``Content-Length`` or chunked (RFC 9112, section 6). A body that ends before
its ``Content-Length`` is an incomplete message (RFC 9112, section 8): the server closes the
connection, as a failing server does.

Pages (paths): ``/article`` (an article between ``<script>``, ``<nav>``, ads and a
``<footer>``), ``/plain`` (text/plain), ``/report.pdf`` and ``/photo.png`` (not pages),
``/empty`` (HTML with no readable text), ``/redirect?to=<url>`` (a redirect anywhere),
``/loop/a`` ↔ ``/loop/b`` (a redirect loop), ``/big`` (``big_size`` bytes of HTML, streamed
in chunks), ``/slow`` (one chunk, then nothing), ``/lying`` (announces far more bytes than it
sends, then closes). Every request is recorded in :attr:`WebPagesStandIn.served` with the
body bytes written, so a test can show that a client stopped reading, or never came.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.standins.discord_cdn import Served
from tests.standins.lifecycle import StandIn, serve_locally, stop_serving

ARTICLE_TEXT = (
    "The committee met on Tuesday and agreed to repaint the lighthouse in red and white "
    "stripes. Work begins in spring, once the storms have passed, and the keeper will "
    "publish a schedule for visitors who want to watch the painters at work."
)
SCRIPT_TEXT = "trackVisitorSecretly"
NAV_TEXT = "Home Products Pricing Careers"
AD_TEXT = "Buy cheap widgets now"
FOOTER_TEXT = "Copyright Lighthouse Gazette all rights reserved"
ARTICLE_HTML = f"""<!doctype html>
<html><head><title>Lighthouse news</title>
<script>function {SCRIPT_TEXT}() {{ return document.cookie; }}</script></head>
<body>
<nav><ul>{"".join(f'<li><a href="/{w}">{w}</a></li>' for w in NAV_TEXT.split())}</ul></nav>
<div class="ad advertisement sponsored"><a href="/ad">{AD_TEXT}</a></div>
<main><article><h1>Lighthouse to be repainted</h1>
<p>{ARTICLE_TEXT}</p>
<p>The keeper said the old paint had lasted thirty years, longer than anyone expected,
and that the new stripes would be visible from the harbour on a clear day.</p>
</article></main>
<div class="ad advertisement sponsored"><a href="/ad">{AD_TEXT}</a></div>
<footer><p>{FOOTER_TEXT}</p></footer>
</body></html>"""
EMPTY_HTML = b"<html><head><script>var seen = 1;</script></head><body></body></html>"
PLAIN_TEXT = "Release notes\n\nVersion 2.1 fixes the tide tables.\n"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
CHUNK = 16 * 1024


class WebPagesStandIn(StandIn):
    def __init__(self, *, big_size: int = 4 * 1024 * 1024) -> None:
        self.big_size = big_size
        self.served: list[Served] = []
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("WebPagesStandIn is not started")
        return int(self._runner.addresses[0][1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def served_at(self, path: str) -> list[Served]:
        return [entry for entry in self.served if entry.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/article", self._fixed(ARTICLE_HTML.encode(), "text/html"))
        app.router.add_get("/plain", self._fixed(PLAIN_TEXT.encode(), "text/plain"))
        app.router.add_get("/report.pdf", self._fixed(PDF, "application/pdf"))
        app.router.add_get("/photo.png", self._fixed(PNG, "image/png"))
        app.router.add_get("/empty", self._fixed(EMPTY_HTML, "text/html"))
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/loop/{side}", self._loop)
        app.router.add_get("/big", self._big)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/lying", self._lying)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = await serve_locally(app)

    async def stop(self) -> None:
        await stop_serving(self._runner)
        self._runner = None

    def _record(self, request: web.Request, status: int) -> Served:
        entry = Served(request.path, status)
        self.served.append(entry)
        return entry

    def _fixed(self, body: bytes, content_type: str) -> web.Handler:
        async def handle(request: web.Request) -> web.Response:
            entry = self._record(request, 200)
            entry.bytes_written, entry.finished = len(body), True
            charset = "utf-8" if content_type.startswith("text/") else None
            return web.Response(body=body, content_type=content_type, charset=charset)
        return handle

    async def _redirect(self, request: web.Request) -> web.Response:
        self._record(request, 302).finished = True
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def _loop(self, request: web.Request) -> web.Response:
        self._record(request, 302).finished = True
        other = "b" if request.match_info["side"] == "a" else "a"
        return web.Response(status=302, headers={"Location": other})

    async def _unknown(self, request: web.Request) -> web.Response:
        self._record(request, 404).finished = True
        return web.Response(status=404, text="Not Found")

    async def _stream(
        self, request: web.Request, size: int, *, length: int | None, pause: float | None
    ) -> web.StreamResponse:
        """``size`` bytes of HTML in ``CHUNK`` pieces; ``pause`` after the first chunk
        forever (None: no pause); ``length`` the announced ``Content-Length``."""
        entry = self._record(request, 200)
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        if length is None:
            response.enable_chunked_encoding()
        else:
            response.content_length = length
        head = f"<html><body><article><p>{ARTICLE_TEXT}</p><p>".encode()
        try:
            await response.prepare(request)
            for start in range(0, size, CHUNK):
                piece = (head + b"x" * CHUNK)[:CHUNK] if start == 0 else b"x" * CHUNK
                piece = piece[: size - start]
                await response.write(piece)
                entry.bytes_written += len(piece)
                if pause is not None:
                    await asyncio.sleep(pause)
        except (ConnectionError, asyncio.CancelledError):
            entry.aborted = True
            raise
        entry.finished = True
        return response

    async def _big(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, self.big_size, length=None, pause=None)

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, self.big_size, length=None, pause=3600.0)

    async def _lying(self, request: web.Request) -> web.StreamResponse:
        response = await self._stream(request, CHUNK, length=100 * self.big_size, pause=None)
        if request.transport is not None:
            request.transport.close()
        return response
