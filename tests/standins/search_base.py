"""What the web-search stand-ins share: the scripted hits, latency, queued faults and the
request log. Each service's own rules and JSON live in its module
(:mod:`tests.standins.searxng_server`, :mod:`tests.standins.brave_server`)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.standins.lifecycle import StandIn, serve_locally, stop_serving


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result as a test scripts it; each stand-in renders it in its API's shape."""

    title: str
    url: str
    snippet: str
    engine: str = "duckduckgo"


@dataclass(frozen=True, slots=True)
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Names lower-cased."""


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: Literal["fail", "hang"]
    status: int = 0
    body: Any = None
    headers: dict[str, str] | None = None


def default_hits(query: str) -> list[Hit]:
    """Three plain hits naming the query, for tests that do not script any."""
    slug = "-".join(query.split()) or "empty"
    return [Hit(f"Result {n} for {query}", f"https://example.org/{slug}/{n}",
                f"Snippet {n} about {query}.") for n in (1, 2, 3)]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SearchStandIn(StandIn):
    """A search API on 127.0.0.1. Subclasses name their route and render answers.

    ``hits`` (None: :func:`default_hits` for the query) is what every search finds;
    ``latency`` delays every answer; ``fail_next``/``hang_next`` queue faults, consumed one
    per request before the service's own checks; ``requests`` records every request.
    """

    path = "/"

    def __init__(self) -> None:
        self.hits: list[Hit] | None = None
        self.latency = 0.0
        self.requests: list[Recorded] = []
        self._faults: deque[_Fault] = deque()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        self._runner = await serve_locally(app)
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await stop_serving(self._runner)
        self._runner = None

    def fail_next(
        self, status: int, *, times: int = 1, body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` and the service's error body
        for it (or ``body``)."""
        self._faults.extend(_Fault("fail", status, body, headers) for _ in range(times))

    def hang_next(self, times: int = 1) -> None:
        """Never answer the next ``times`` requests; they end when the client leaves."""
        self._faults.extend(_Fault("hang") for _ in range(times))

    def hits_for(self, query: str) -> list[Hit]:
        return list(self.hits) if self.hits is not None else default_hits(query)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded(
            request.path, dict(request.query),
            {name.lower(): value for name, value in request.headers.items()},
        ))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self._faults:
            fault = self._faults.popleft()
            if fault.kind == "hang":
                await asyncio.get_running_loop().create_future()
            return self.error(fault.status, fault.body, fault.headers)
        return await self.answer(request)

    def error(self, status: int, body: Any, headers: dict[str, str] | None) -> web.Response:
        raise NotImplementedError

    async def answer(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError
