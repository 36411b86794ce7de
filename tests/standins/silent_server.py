"""A host that accepts TCP connections and never answers: a network that swallows packets
past the handshake (a captive proxy, a half-up load balancer), the case where a client
without its own deadline waits for aiohttp's five-minute default.

``connections`` counts accepted connections, so a test can also prove that a command made
none. ``url`` is an ``http://`` base for any of the three services.
"""

from __future__ import annotations

import asyncio

from tests.standins.lifecycle import StandIn


class SilentServer(StandIn):
    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._accepted = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        self._accepted.set()

    async def wait_for_connection(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self._accepted.wait()
