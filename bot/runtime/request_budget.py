"""Discord's invalid-request budget: count 401/403/429 answers, back off before a ban.

Discord (developer docs, "Rate Limits" → "Invalid Request Limit"): an IP that makes
10 000 invalid requests (HTTP 401, 403 or 429) within 10 minutes is restricted by
Cloudflare for about an hour; 429s with ``X-RateLimit-Scope: shared`` do not count. A bot
that reaches that answers nobody, so it must never run near the limit, whatever the load.

Every answer discord.py receives passes through an aiohttp :class:`~aiohttp.TraceConfig`
(discord.py's own ``http_trace`` option, handed to the session it creates in
``HTTPClient.static_login``), so retried 429s that discord.py absorbs are counted too.

Past half the limit the budget logs a warning naming the routes responsible and the bot
drops its *optional* traffic, the requests nobody waits for: typing indicators and
feedback reactions stop (:meth:`RequestBudget.optional_allowed`) and streaming edits
slow down (:meth:`RequestBudget.edit_interval_factor`). Replies themselves still go out.

Most 429s come from Discord's global limit (50 requests a second per bot, "Rate Limits"
→ "Global Rate Limit"), which discord.py only learns about from a 429. So the budget
also counts requests made in the last second: from :data:`BUSY_SHARE` of the global
limit on, optional traffic waits and edits are spaced out, before Discord has to refuse.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp

log = logging.getLogger(__name__)

DISCORD_INVALID_LIMIT = 10_000
WINDOW_SECONDS = 600.0
INVALID_STATUSES = frozenset({401, 403, 429})
SLOW_EDIT_FACTOR = 4.0
GLOBAL_LIMIT = 50  # requests per second
BUSY_SHARE = 0.7
BUSY_EDIT_FACTOR = 2.0

_SNOWFLAKE = re.compile(r"/\d{15,21}")
_EMOJI = re.compile(r"/reactions/[^/]+")
_TOKEN = re.compile(r"/(interactions/\{id\}|webhooks/\{id\})/[^/]+")


def route_of(method: str, path: str) -> str:
    """``PATCH /channels/{id}/messages/{id}``: the route, without ids, tokens or emoji."""
    path = path.split("/api/v", 1)[-1].partition("/")[2]
    path = _SNOWFLAKE.sub("/{id}", "/" + path)
    path = _EMOJI.sub("/reactions/{emoji}", path)
    path = _TOKEN.sub(r"/\1/{token}", path)
    return f"{method} {path}"


class RequestBudget:
    """Invalid answers in the last ``window`` seconds; past ``limit * 0.5``, be frugal."""

    def __init__(
        self,
        *,
        limit: int = DISCORD_INVALID_LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        # One entry per invalid answer, oldest first; the bound keeps memory fixed even
        # past Discord's limit, where the exact count no longer matters.
        self._invalid: deque[tuple[float, str]] = deque(maxlen=limit)
        self._warned = False
        self.total = 0
        self._recent: deque[float] = deque(maxlen=GLOBAL_LIMIT * 2)

    @property
    def threshold(self) -> int:
        return self.limit // 2

    def record(self, status: int, route: str) -> None:
        if status not in INVALID_STATUSES:
            return
        self.total += 1
        self._invalid.append((self.clock(), route))
        if not self._warned and self.count() >= self.threshold:
            self._warned = True
            top = ", ".join(f"{r} ×{n}" for r, n in self.routes().most_common(5))
            log.warning(
                "%d invalid Discord requests (401/403/429) in the last %.0f minutes, half of "
                "Discord's limit of %d: typing indicators and feedback reactions are paused "
                "and streaming edits slowed until it falls; routes: %s",
                self.count(), self.window / 60, self.limit, top,
            )

    def count(self) -> int:
        """Invalid answers within the window (amortised O(1): old entries fall off)."""
        horizon = self.clock() - self.window
        while self._invalid and self._invalid[0][0] <= horizon:
            self._invalid.popleft()
        if self._warned and len(self._invalid) < self.threshold // 2:
            self._warned = False
            log.info("invalid Discord requests back to %d in the window; optional traffic "
                     "resumes", len(self._invalid))
        return len(self._invalid)

    def routes(self) -> Counter[str]:
        self.count()
        return Counter(route for _, route in self._invalid)

    def sent(self) -> None:
        """One request is leaving (any route)."""
        self._recent.append(self.clock())

    def busy(self) -> bool:
        """Whether the last second's requests reach ``BUSY_SHARE`` of the global limit."""
        horizon = self.clock() - 1.0
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()
        return len(self._recent) >= GLOBAL_LIMIT * BUSY_SHARE

    def optional_allowed(self) -> bool:
        """Whether to spend a request nobody waits for (typing, a feedback reaction)."""
        return self.count() < self.threshold and not self.busy()

    def edit_interval_factor(self) -> float:
        """How much to stretch the interval between streaming edits (1.0 normally)."""
        if self.count() >= self.threshold:
            return SLOW_EDIT_FACTOR
        return BUSY_EDIT_FACTOR if self.busy() else 1.0

    def trace_config(self) -> aiohttp.TraceConfig:
        """For ``discord.Client(http_trace=...)``: every answer discord.py gets is counted."""
        config = aiohttp.TraceConfig()

        async def on_request_end(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            status = params.response.status
            if status in INVALID_STATUSES and not _shared_429(params.response):
                self.record(status, route_of(params.method, params.url.path))

        async def on_request_start(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestStartParams,
        ) -> None:
            self.sent()

        config.on_request_start.append(on_request_start)
        config.on_request_end.append(on_request_end)
        config.freeze()
        return config


def _shared_429(response: aiohttp.ClientResponse) -> bool:
    """Discord does not count a 429 on a shared resource limit against the budget."""
    return response.status == 429 and response.headers.get("X-RateLimit-Scope") == "shared"
