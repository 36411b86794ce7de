"""Web search for the ``web_search`` tool: a self-hosted SearXNG or the Brave Search API.

Whatever the backend answers goes to the model, so every call is bounded: a time limit over
the whole exchange, a byte cap on the body, at most ``max_results`` results, and titles and
snippets reduced to short plain text (both services mark matched words up with
``<strong>``, and engines pass entities through). Every failure is one
:class:`SearchFailed` whose reason the model can relay as it stands; it never carries the
API key, which only ever travels in a request header.
"""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from pydantic import SecretStr

from bot.attachments.download import read_capped

MAX_RESULTS = 5
MAX_TITLE = 200
MAX_SNIPPET = 400
MAX_QUERY = 400
MAX_BODY = 2 * 1024 * 1024
TIMEOUT = 8.0
BRAVE_URL = "https://api.search.brave.com"

_MEANINGS = {
    400: "the query was refused",
    401: "the API key was refused",
    403: "access is forbidden",
    404: "no search API at that address",
    422: "the request or the API key was refused",
    429: "rate limited",
}


@dataclass(frozen=True, slots=True)
class SearchResult:
    title: str
    url: str
    snippet: str


class SearchFailed(Exception):
    """A search that produced no results, with a reason fit to show the model."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebSearch(Protocol):
    async def search(self, query: str) -> list[SearchResult]: ...

    async def close(self) -> None: ...


def clean_text(raw: str, limit: int) -> str:
    """``raw`` as plain text of at most ``limit`` characters: entities decoded, tags, stray
    angle brackets and control characters removed, whitespace collapsed.

    One pass each, with ``str.find`` and no regular expression of our own, so the work is
    linear in the (first ``16 * limit`` characters of the) input.
    """
    text = html.unescape(raw[: 16 * max(limit, 1)])
    kept: list[str] = []
    start = 0
    while (opening := text.find("<", start)) != -1:
        kept.append(text[start:opening] + " ")
        closing = text.find(">", opening)
        if closing == -1:  # no tag closes after here: "2 < 3" keeps its words
            start = opening + 1
            break
        start = closing + 1
    kept.append(text[start:].replace("<", " "))
    visible = "".join(char if char.isprintable() and char != ">" else " "
                      for char in "".join(kept))
    plain = " ".join(visible.split())
    if len(plain) <= limit:
        return plain
    if limit <= 0:
        return ""
    return plain[: limit - 1].rstrip() + "…"


class _HttpSearch:
    """One lazily made ``aiohttp`` session, and one bounded GET of a JSON answer."""

    def __init__(self, *, max_results: int, timeout: float) -> None:
        self.max_results = max_results
        self.timeout = timeout
        self._client: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    @staticmethod
    def _query(query: str) -> str:
        bounded = " ".join(query.split())[:MAX_QUERY]
        if not bounded:
            raise SearchFailed("the search query is empty")
        return bounded

    async def _get_json(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session().get(url, params=params, headers=headers,
                                               allow_redirects=False) as response:
                    if response.status != 200:
                        raise SearchFailed(self._refusal(response.status))
                    body, whole = await read_capped(response.content, MAX_BODY)
                    if not whole:
                        raise SearchFailed("the search service's answer was too large")
        except TimeoutError:
            raise SearchFailed(
                f"the search service did not answer within {self.timeout:g} seconds"
            ) from None
        except aiohttp.ClientError:
            raise SearchFailed("the search service could not be reached") from None
        try:
            return json.loads(body)
        except ValueError:
            raise SearchFailed("the search service sent an answer that is not JSON") from None

    def _refusal(self, status: int) -> str:
        meaning = _MEANINGS.get(status, "server error" if status >= 500 else "unexpected status")
        return f"the search service answered {status}: {meaning}"

    def _results(self, items: Any, snippet_key: str) -> list[SearchResult]:
        if not isinstance(items, list):
            raise SearchFailed("the search service sent an answer without results")
        results: list[SearchResult] = []
        for item in items:
            if len(results) == self.max_results:
                break
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                continue
            results.append(SearchResult(
                title=clean_text(str(item.get("title") or ""), MAX_TITLE),
                url=url[:2048],
                snippet=clean_text(str(item.get(snippet_key) or ""), MAX_SNIPPET),
            ))
        return results


class SearXNGSearch(_HttpSearch):
    """A SearXNG instance's JSON API (``search: formats`` must list ``json``)."""

    def __init__(
        self, base_url: str, *, max_results: int = MAX_RESULTS, timeout: float = TIMEOUT
    ) -> None:
        super().__init__(max_results=max_results, timeout=timeout)
        self.url = base_url.rstrip("/") + "/search"

    def _refusal(self, status: int) -> str:
        if status == 403:
            return ("the search service answered 403: JSON output is not enabled on this "
                    "SearXNG instance (search: formats in its settings.yml)")
        return super()._refusal(status)

    async def search(self, query: str) -> list[SearchResult]:
        body = await self._get_json(self.url, {"q": self._query(query), "format": "json"},
                                    {"Accept": "application/json"})
        return self._results(body.get("results") if isinstance(body, dict) else None,
                             "content")


class BraveSearch(_HttpSearch):
    """Brave Search API's web search; the key goes in ``X-Subscription-Token`` only."""

    def __init__(
        self, api_key: SecretStr, base_url: str = BRAVE_URL, *,
        max_results: int = MAX_RESULTS, timeout: float = TIMEOUT,
    ) -> None:
        super().__init__(max_results=max_results, timeout=timeout)
        self._api_key = api_key
        self.url = base_url.rstrip("/") + "/res/v1/web/search"

    async def search(self, query: str) -> list[SearchResult]:
        params = {"q": self._query(query), "count": str(min(max(self.max_results, 1), 20))}
        headers = {"Accept": "application/json",
                   "X-Subscription-Token": self._api_key.get_secret_value()}
        body = await self._get_json(self.url, params, headers)
        web = body.get("web") if isinstance(body, dict) else None
        return self._results(web.get("results") if isinstance(web, dict) else [],
                             "description")
