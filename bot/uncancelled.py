"""Run a discord.py REST call to its end even when the task awaiting it is cancelled.

discord.py 2.7 closes a client-wide lock while it sleeps off a *global* rate limit and
reopens it after the sleep, unprotected: a request cancelled during that sleep leaves the
lock closed, and every later request of the process waits forever (the same code is
fixed in disnake, DisnakeDev/disnake#1585). The bot cancels work on purpose (a typing
indicator once words are visible, a reply whose question was deleted), so each REST call
it may cancel goes through :func:`uncancelled`: the caller stops waiting at once, and the
request finishes on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def _retrieve(task: asyncio.Future[object]) -> None:
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
