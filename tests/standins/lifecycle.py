"""What every stand-in server shares: ``async with`` starts and stops it."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class StandIn:
    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def abort_connections(runner: web.AppRunner) -> None:
    """End hanging requests and open streams at once, so stopping never waits on them."""
    server = runner.server
    for handler in server.connections if server is not None else []:
        if handler.transport is not None:
            handler.transport.abort()


async def serve_locally(app: web.Application) -> web.AppRunner:
    """Run ``app`` on 127.0.0.1 at an ephemeral port; a client that leaves cancels its
    handler, and stopping waits at most half a second."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def stop_serving(runner: web.AppRunner | None) -> None:
    if runner is not None:
        abort_connections(runner)
        await runner.cleanup()
