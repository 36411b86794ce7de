"""A pytest plugin: no test may cancel a discord.py REST request while it is in flight.

The rule of :mod:`bot.runtime.uncancelled`, checked where it matters, at run time: every
``HTTPClient.request`` of the test process is wrapped, and a ``CancelledError`` that comes
out of one (the awaiting task was cancelled during the request, its rate-limit waits
included) is recorded with the route and the stack that awaited it. Each test fails at
teardown if any was recorded. A static scan cannot see this: the cancellation comes from
whoever cancels the task (shutdown's drain, a deleted question, a stopped typing
indicator), far from the call.

Tests that cancel a request on purpose (to reproduce the wedge the rule prevents) say so
with ``@pytest.mark.cancels_rest``.
"""

from __future__ import annotations

import asyncio
import functools
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from discord.http import HTTPClient, Route

from bot.runtime import discord_patches


@dataclass(frozen=True)
class CancelledRequest:
    route: str
    stack: str


cancelled_requests: list[CancelledRequest] = []


def _watch(request: Any) -> Any:
    @functools.wraps(request)
    async def watched(self: HTTPClient, route: Route, **kwargs: Any) -> Any:
        try:
            return await request(self, route, **kwargs)
        except asyncio.CancelledError:
            stack = "".join(traceback.format_stack(limit=12))
            cancelled_requests.append(CancelledRequest(f"{route.method} {route.path}", stack))
            raise

    return watched


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cancels_rest: the test cancels a discord.py REST request on purpose"
    )
    discord_patches.apply()  # the bot applies it too; the watch must wrap the outermost
    HTTPClient.request = _watch(HTTPClient.request)  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def no_cancelled_rest_call(request: pytest.FixtureRequest) -> Iterator[None]:
    cancelled_requests.clear()
    yield
    if request.node.get_closest_marker("cancels_rest") is None and cancelled_requests:
        first = cancelled_requests[0]
        pytest.fail(
            f"{len(cancelled_requests)} discord.py REST request(s) cancelled in flight, "
            f"first {first.route}, awaited from:\n{first.stack}"
        )
