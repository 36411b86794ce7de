"""No discord.py REST request is ever cancelled mid-flight: the rule, in one module.

discord.py 2.7 closes a client-wide lock while it sleeps off a *global* rate limit and
reopens it after the sleep, unprotected: a request cancelled during that sleep leaves the
lock closed, and every later request of the process waits forever (fixed for the same
code in disnake, DisnakeDev/disnake#1585; :mod:`bot.runtime.discord_patches` guards it here too).
The bot cancels work on purpose (a typing indicator once words are visible, a reply whose
question was deleted, replies still running when shutdown's grace ends), so:

* every REST call in work that may be cancelled goes through :func:`uncancelled`: the
  caller stops waiting at once, and the request finishes on its own;
* work is cancelled through :func:`cancel_and_wait`, which never waits unboundedly for
  the clean-up the cancellation starts (deleting a withdrawn reply is a REST call too);
* nothing wraps a REST call in ``asyncio.wait_for`` or ``asyncio.timeout``, which cancel
  what they time out. ``tests/rest_guard.py`` fails any test in which a cancellation
  reaches a request in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Nobody waits for an abandoned call; take its outcome so asyncio does not complain."""
    if not task.cancelled():
        with contextlib.suppress(Exception):
            task.result()


async def uncancelled(call: Awaitable[T]) -> T:
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_retrieve)
        raise


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], bound: float
) -> set[asyncio.Task[Any]]:
    """Cancel ``tasks`` (whose REST calls go through :func:`uncancelled`) and wait at most
    ``bound`` seconds for them to end; returns those still running, which are left to
    finish on their own rather than cancelled a second time."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
        task.add_done_callback(_retrieve)
    if not pending:
        return set()
    _, still_running = await asyncio.wait(pending, timeout=bound)
    return still_running
