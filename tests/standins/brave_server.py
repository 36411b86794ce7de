"""A stand-in for the Brave Search API's web search.

What it copies from Brave (api-dashboard.search.brave.com documentation, "Web Search",
"Response Headers"; error bodies as Brave sends them, quoted in client issue threads):

* ``GET /res/v1/web/search?q=…`` with the key in ``X-Subscription-Token``. The answer is
  ``{"type": "search", "query": {"original": q, ...}, "mixed": {...}, "web": {"type":
  "search", "results": [...], "family_friendly": true}}``; each result has ``title``,
  ``url``, ``description`` (the snippet, with ``<strong>`` around matched words while
  ``text_decorations`` is on, the default), ``type: "search_result"``, ``meta_url``,
  ``language``, ``family_friendly``. ``count`` is at most 20.
* Errors are ``{"type": "ErrorResponse", "error": {"id", "status", "code", "detail",
  "meta"}, "time"}``:

  - no ``X-Subscription-Token``: 422 ``VALIDATION`` "Unable to validate request
    parameter(s)", ``meta.errors[].loc == ["header", "x-subscription-token"]``
    (brave/brave-search-mcp-server#56); a missing ``q`` or a ``count`` over 20 the same,
    with their own ``loc`` (egoist/chatwise-releases#936);
  - a wrong token: 422 ``SUBSCRIPTION_TOKEN_INVALID`` "The provided subscription token is
    invalid.", ``meta.component: "authentication"`` (Brave's API reference example;
    nearai/ironclaw#2780): Brave answers a bad key with 422, not 401;
  - over the plan's rate: 429 ``RATE_LIMITED`` "Request rate limit exceeded for plan", with
    ``meta`` ``plan``, ``rate_limit``, ``rate_current``, ``quota_limit``,
    ``quota_current``, ``component: "rate_limiter"`` (egoist/chatwise-releases#1296).

* Every answer carries the rate-limit headers, each a per-second and a per-month value
  ("Response Headers"): ``X-RateLimit-Limit: 1, 15000``, ``X-RateLimit-Policy: 1;w=1,
  15000;w=2592000``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (seconds until
  each window resets). Only successful requests count against the quota.

``rate_per_second`` (default None: off) enforces the per-second limit for real, so two
searches in the same second get a 429; ``fail_next(status)`` answers Brave's body for that
status (401 gets the ``SUBSCRIPTION_TOKEN_INVALID`` body, as a gateway in front would).

Not covered: ``offset``, ``freshness``, ``result_filter``, news/videos/locations blocks,
the summarizer, and the ``Accept-Encoding: gzip`` the docs recommend (aiohttp asks for it
anyway).
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.standins.search_base import Hit, SearchStandIn

PATH = "/res/v1/web/search"
MAX_COUNT = 20
MONTH = 2_592_000
_MESSAGES = {
    401: ("SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."),
    422: ("SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."),
    429: ("RATE_LIMITED", "Request rate limit exceeded for plan"),
}


def error_body(status: int, code: str, detail: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ErrorResponse", "error": {
        "id": str(uuid.uuid4()), "status": status, "code": code, "detail": detail,
        "meta": meta,
    }, "time": int(time.time())}


def validation(*loc: str) -> dict[str, Any]:
    return error_body(422, "VALIDATION", "Unable to validate request parameter(s)", {
        "errors": [{"type": "missing", "loc": list(loc), "msg": "Field required",
                    "input": None}],
    })


def result_object(hit: Hit) -> dict[str, Any]:
    parts = urlsplit(hit.url)
    return {
        "title": hit.title, "url": hit.url, "description": hit.snippet,
        "type": "search_result", "subtype": "generic", "is_source_local": False,
        "is_source_both": False, "family_friendly": True, "language": "en",
        "profile": {"name": parts.netloc, "url": hit.url, "long_name": parts.netloc},
        "meta_url": {"scheme": parts.scheme, "netloc": parts.netloc,
                     "hostname": parts.hostname or "", "path": parts.path},
    }


class BraveStandIn(SearchStandIn):
    path = PATH

    def __init__(self, *, api_key: str = "brave-standin-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.rate_per_second: int | None = None
        self.quota_per_month = 15_000
        self.quota_used = 0
        self._window = 0
        self._in_window = 0

    def _rate_headers(self) -> dict[str, str]:
        per_second = self.rate_per_second or 1
        left_now = max(0, per_second - self._in_window)
        reset = max(1, math.ceil(self._window + 1 - time.monotonic()))
        return {
            "X-RateLimit-Limit": f"{per_second}, {self.quota_per_month}",
            "X-RateLimit-Policy": f"{per_second};w=1, {self.quota_per_month};w={MONTH}",
            "X-RateLimit-Remaining": f"{left_now}, {self.quota_per_month - self.quota_used}",
            "X-RateLimit-Reset": f"{reset}, {MONTH - 1}",
        }

    def _rate_meta(self) -> dict[str, Any]:
        return {"plan": "Free", "rate_limit": self.rate_per_second or 1,
                "rate_current": self._in_window, "quota_limit": self.quota_per_month,
                "quota_current": self.quota_used, "org_rate_limit": None,
                "org_rate_current": 0, "component": "rate_limiter"}

    def error(self, status: int, body: Any, headers: dict[str, str] | None) -> web.Response:
        if body is None:
            code, detail = _MESSAGES.get(status, ("SERVER_ERROR", "Internal server error"))
            meta = self._rate_meta() if status == 429 else {"component": "authentication"}
            body = error_body(status, code, detail, meta)
        return web.json_response(body, status=status,
                                 headers={**self._rate_headers(), **(headers or {})})

    def _over_rate(self) -> bool:
        now = int(time.monotonic())
        if now != self._window:
            self._window, self._in_window = now, 0
        return self.rate_per_second is not None and self._in_window >= self.rate_per_second

    async def answer(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("X-Subscription-Token")
        if token is None:
            return self.error(422, validation("header", "x-subscription-token"), None)
        if token != self.api_key:
            return self.error(422, None, None)
        query = request.query.get("q")
        if not query:
            return self.error(422, validation("query", "q"), None)
        count = request.query.get("count", "20")
        if not count.isdigit() or not 1 <= int(count) <= MAX_COUNT:
            return self.error(422, validation("query", "count"), None)
        if self._over_rate():
            return self.error(429, None, None)
        self._in_window += 1
        self.quota_used += 1
        results = [result_object(hit) for hit in self.hits_for(query)[: int(count)]]
        return web.json_response({
            "type": "search",
            "query": {"original": query, "show_strict_warning": False, "is_navigational": False,
                      "spellcheck_off": True, "country": "us", "more_results_available": False},
            "mixed": {"type": "mixed", "main": [{"type": "web", "index": i, "all": False}
                                                for i in range(len(results))]},
            "web": {"type": "search", "results": results, "family_friendly": True},
        }, headers=self._rate_headers())
