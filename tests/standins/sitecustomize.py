"""Redirects discord.py to the Discord stand-in in a child process (``python -m bot``).

Python imports ``sitecustomize`` at startup from the first ``sys.path`` entry that has one;
``DiscordStandIn.subprocess_env()`` puts this directory first on ``PYTHONPATH`` and sets:

* ``DISCORD_STANDIN_API``: the REST base, e.g. ``http://127.0.0.1:PORT/api/v10``, written
  to ``discord.http.Route.BASE`` (webhooks and interaction callbacks use the same ``Route``);
* ``DISCORD_STANDIN_GATEWAY``: the websocket URL, written to
  ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``;
* ``DISCORD_STANDIN_FAST=1`` (optional): every ``discord.Client`` skips the 2 s wait for
  GUILD_CREATEs before ``on_ready`` (``guild_ready_timeout``, unless the code sets one) and
  the 5 s sleep before a non-first IDENTIFY.

With neither URL variable set this module does nothing, and does not import discord.
"""

from __future__ import annotations

import os
from typing import Any


def _redirect(api: str | None, gateway: str | None, fast: bool) -> None:
    try:
        import discord  # noqa: PLC0415  (only imported when redirecting)
        import discord.gateway  # noqa: PLC0415
        import discord.http  # noqa: PLC0415
        import yarl  # noqa: PLC0415
    except ImportError:  # not a discord.py environment: nothing to redirect
        return
    if api:
        discord.http.Route.BASE = api.rstrip("/")
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    if fast:
        _speed_up(discord)


def _speed_up(discord: Any) -> None:
    original_init = discord.Client.__init__

    def __init__(self: Any, *args: Any, **options: Any) -> None:
        options.setdefault("guild_ready_timeout", 0.05)
        original_init(self, *args, **options)

    async def before_identify_hook(
        self: Any, shard_id: int | None, *, initial: bool = False
    ) -> None:
        return None

    discord.Client.__init__ = __init__
    discord.Client.before_identify_hook = before_identify_hook


_API = os.environ.get("DISCORD_STANDIN_API")
_GATEWAY = os.environ.get("DISCORD_STANDIN_GATEWAY")
if _API or _GATEWAY:
    _redirect(_API, _GATEWAY, os.environ.get("DISCORD_STANDIN_FAST") == "1")
