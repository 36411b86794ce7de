"""Discord's REST rate limits, for a stand-in that should cost what Discord costs.

On by default (``DiscordStandIn(rate_limits=False)`` turns them off). Modelled on
Discord's documentation ("Rate Limits": global limit, per-route buckets keyed by the
major parameter, here the channel) and on the limits its headers report in practice,
since the docs tell clients to read them and publish no per-route numbers:

* the global limit: 50 requests per second per bot (interaction callbacks and webhook
  calls made with an interaction token are exempt);
* per channel: creating messages, editing messages and the typing indicator, each 5 per
  5 s; deleting messages 5 per 1 s; adding or removing the bot's reactions 1 per 0.25 s,
  while the headers advertise 1 per 1 s (discord/discord-api-docs#182, "not intended to
  be fixed"), so a client that follows the headers, as discord.py does, stays clear.
  Other routes have no bucket here.

Buckets are fixed windows that open at their first request. Answers carry the
``X-RateLimit-*`` headers of their bucket, so discord.py waits before it runs a bucket
dry, as it does against Discord. A request over a limit is answered 429 with
``retry_after``, the ``global`` flag and ``X-RateLimit-Scope``, and discord.py sleeps and
retries it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from tests.standins.discord_rest import ApiError, RecordedRequest

GLOBAL_LIMIT = 50  # per second

_MESSAGE = r"/channels/(\d+)/messages/\d+"
_ROUTES = [  # (method, path, bucket name, limit, period, advertised period; seconds)
    ("POST", re.compile(r"/channels/(\d+)/messages"), "messages", 5, 5.0, 5.0),
    ("PATCH", re.compile(_MESSAGE), "edits", 5, 5.0, 5.0),
    ("DELETE", re.compile(_MESSAGE), "deletes", 5, 1.0, 1.0),
    ("POST", re.compile(r"/channels/(\d+)/typing"), "typing", 5, 5.0, 5.0),
    ("PUT", re.compile(_MESSAGE + r"/reactions/[^/]+/@me"), "reactions", 1, 0.25, 1.0),
    ("DELETE", re.compile(_MESSAGE + r"/reactions/[^/]+/@me"), "reactions", 1, 0.25, 1.0),
]
_EXEMPT = re.compile(r"/(interactions|webhooks)/\d+/[^/]+(/.*)?")
# The longest a client may be told to wait for a bucket: a bot posting a long reply may
# be silent this long between two requests while still making progress.
LONGEST_RESET = max(advertised for *_, advertised in _ROUTES)


@dataclass(slots=True)
class Window:
    limit: int
    period: float
    advertised: float
    opened: float = float("-inf")
    used: int = 0

    def take(self, now: float) -> float:
        """Count one request; 0.0 if allowed, else the seconds until the window reopens."""
        if now >= self.opened + self.period:
            self.opened, self.used = now, 0
        if self.used >= self.limit:
            return self.opened + self.period - now
        self.used += 1
        return 0.0

    def headers(self, bucket: str, now: float) -> dict[str, str]:
        reset_after = max(0.0, self.opened + self.advertised - now)
        return {
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self.used),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }


class RateLimits:
    """Per-stand-in state: the global window and one window per (route, channel)."""

    def __init__(self) -> None:
        self.global_window = Window(GLOBAL_LIMIT, 1.0, 1.0)
        self.buckets: dict[tuple[str, str], Window] = {}
        self.rejected: list[RecordedRequest] = []

    def check(self, req: RecordedRequest) -> dict[str, str]:
        """The headers for an allowed request; raises the 429 for one over a limit."""
        now = time.monotonic()
        if not _EXEMPT.fullmatch(req.path):
            wait = self.global_window.take(now)
            if wait:
                self._reject(req, wait, scope="global")
        for method, pattern, name, limit, period, advertised in _ROUTES:
            match = pattern.fullmatch(req.path)
            if match is None or method != req.method:
                continue
            bucket = f"{name}:{match.group(1)}"
            window = self.buckets.setdefault(
                (name, match.group(1)), Window(limit, period, advertised))
            wait = window.take(now)
            if wait:
                self._reject(req, wait, scope="user", headers=window.headers(bucket, now))
            return window.headers(bucket, now)
        return {}

    def _reject(
        self,
        req: RecordedRequest,
        wait: float,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.rejected.append(req)
        retry_after = round(wait, 3)
        raise ApiError(
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after,
             "global": scope == "global"},
            {**(headers or {}), "Retry-After": f"{retry_after:.3f}",
             "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": f"{retry_after:.3f}",
             "X-RateLimit-Scope": scope, **({"X-RateLimit-Global": "true"}
                                             if scope == "global" else {})},
        )
