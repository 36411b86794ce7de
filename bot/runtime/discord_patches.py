"""One patch to discord.py 2.7: the global rate-limit lock is always re-opened.

``HTTPClient.request`` (``discord/http.py``, the ``retry_after`` branch) answers a *global*
429 with ``self._global_over.clear()``, ``await asyncio.sleep(retry_after)``, then
``self._global_over.set()``, with no ``finally``. A request cancelled during that sleep
never reaches ``set()``: the event stays cleared, and every later request of the process
waits on it forever, while the gateway keeps running, so the bot looks alive and answers
nothing. The bot itself never cancels a REST call (:mod:`bot.runtime.uncancelled`), but discord.py
does on our behalf at ``Client.close()``, and a library upgrade may add more paths.

The patch swaps the event for :class:`OwnedEvent`, which remembers which task closed it,
and wraps ``request`` so that, however the request ends (cancelled, raised, returned),
the lock it closed is opened again. Nothing changes while the lock works as written: the
request that closed it has already opened it by the time the wrapper's ``finally`` runs.

Upstream status (checked 2026-12): no discord.py issue reports this. The same code was
reported and fixed in the disnake fork (DisnakeDev/disnake#1585, "release global rate
limit lock when a request is cancelled"), and discord.py's open Rapptz/discord.py#10287
("Redo ratelimit handling") replaces the lock with a reset timestamp, which would remove
the bug. **Drop this module** when a discord.py release no longer closes ``_global_over``
around a sleep (read ``HTTPClient.request``); :func:`apply` warns on any version after
2.7.x so the question is asked at the next upgrade.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import discord
from discord.http import HTTPClient

log = logging.getLogger(__name__)

PATCHED_SERIES = (2, 7)

_Request = Callable[..., Coroutine[Any, Any, Any]]

ORIGINAL_REQUEST: _Request = HTTPClient.request
"""discord.py's own ``request``, unguarded (tests reproduce the wedge with it)."""


class OwnedEvent(asyncio.Event):
    """An ``asyncio.Event`` that remembers the task that last cleared it."""

    def __init__(self) -> None:
        super().__init__()
        self.cleared_by: asyncio.Task[Any] | None = None

    def clear(self) -> None:
        self.cleared_by = asyncio.current_task()
        super().clear()

    def set(self) -> None:
        self.cleared_by = None
        super().set()


def _owned(http: HTTPClient) -> OwnedEvent:
    """The client's global lock as an :class:`OwnedEvent` (created by ``static_login``);
    converted in place the first time, keeping its state."""
    event = http._global_over
    if not isinstance(event, OwnedEvent):
        owned = OwnedEvent()
        if event is discord.utils.MISSING or event.is_set():
            owned.set()
        http._global_over = owned
        event = owned
    return event


def _guard(request: _Request) -> _Request:
    @functools.wraps(request)
    async def guarded(self: HTTPClient, *args: Any, **kwargs: Any) -> Any:
        lock = _owned(self)
        try:
            return await request(self, *args, **kwargs)
        finally:
            if lock.cleared_by is asyncio.current_task() and not lock.is_set():
                log.warning("re-opening discord.py's global rate-limit lock left closed by "
                            "a request that ended during its sleep")
                lock.set()

    guarded.__discord_patch__ = True  # type: ignore[attr-defined]
    return guarded


def patched() -> bool:
    return getattr(HTTPClient.request, "__discord_patch__", False)


def apply() -> None:
    """Install the guard once per process (idempotent: every ``ChatBot`` calls it)."""
    if patched():
        return
    if discord.version_info[:2] > PATCHED_SERIES:
        warnings.warn(
            f"bot.runtime.discord_patches targets discord.py 2.7.x, running {discord.__version__}: "
            "check whether HTTPClient.request still closes _global_over around a sleep "
            "and drop the patch if not",
            RuntimeWarning,
            stacklevel=2,
        )
    HTTPClient.request = _guard(HTTPClient.request)  # type: ignore[method-assign]

