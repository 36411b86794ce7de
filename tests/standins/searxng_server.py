"""A stand-in for a self-hosted SearXNG's search API.

What it copies from SearXNG (docs.searxng.org, "Search API", and ``searx/webapp.py``'s
``search()`` with ``searx/webutils.py``'s ``get_json_response``):

* ``GET /search?q=…&format=json``. The answer is ``{"query", "number_of_results",
  "results", "answers", "corrections", "infoboxes", "suggestions",
  "unresponsive_engines"}``; each result has ``url``, ``title``, ``content`` (the snippet,
  which engines often mark up with ``<strong>``), ``engine``, ``engines``, ``positions``,
  ``score``, ``category``, ``parsed_url``, ``template``, ``publishedDate``, ``thumbnail``.
* The formats an instance answers are listed in its ``settings.yml`` under
  ``search: formats``, and the default is ``[html]`` only (docs, "settings search").
  "Requesting an unset format will return a 403 Forbidden error" (docs, "Search API"):
  ``flask.abort(403)``, an HTML page, not JSON. ``json_enabled = False`` plays such an
  instance.
* A missing or empty ``q`` with ``format=json`` is 400 ``{"error": "No query"}``
  (``index_error``); with the HTML format, the start page.
* An unknown ``format`` falls back to HTML, as ``webapp.py`` does.
* An engine failure is not an HTTP error: the answer is 200, the failing engines listed in
  ``unresponsive_engines`` as ``[name, reason]`` pairs (``unresponsive`` scripts them).

Faults (``fail_next``) answer SearXNG's shape for the status: an HTML page for 403/429
(its limiter's "Too Many Requests"), ``{"error": ...}`` JSON otherwise.

Not covered: POST, ``categories``/``engines``/``pageno``/``time_range`` (recorded, not
applied), CSV and RSS bodies, bangs and redirects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.standins.search_base import Hit, SearchStandIn

FORMATS = ("html", "json", "csv", "rss")
FORBIDDEN_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n"
    "<p>You don&#39;t have the permission to access the requested resource. It is either "
    "read-protected or not readable by the server.</p>\n"
)
TOO_MANY_PAGE = (
    "<!doctype html>\n<title>429 Too Many Requests</title>\n<h1>Too Many Requests</h1>\n"
)


def result_object(hit: Hit, position: int) -> dict[str, Any]:
    parts = urlsplit(hit.url)
    return {
        "url": hit.url, "title": hit.title, "content": hit.snippet, "engine": hit.engine,
        "engines": [hit.engine], "positions": [position], "score": 1.0 / position,
        "category": "general", "template": "default.html", "publishedDate": None,
        "thumbnail": "", "img_src": "", "priority": "",
        "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment],
    }


class SearXNGStandIn(SearchStandIn):
    path = "/search"

    def __init__(self) -> None:
        super().__init__()
        self.json_enabled = True
        self.unresponsive: list[tuple[str, str]] = []
        """Engines reported as failing (``("brave", "timeout")``), with the hits still served."""

    def error(self, status: int, body: Any, headers: dict[str, str] | None) -> web.Response:
        if body is not None:
            return web.json_response(body, status=status, headers=headers)
        if status in (403, 429):
            page = FORBIDDEN_PAGE if status == 403 else TOO_MANY_PAGE
            return web.Response(status=status, text=page, content_type="text/html",
                                headers=headers)
        return web.json_response({"error": "search error"}, status=status, headers=headers)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        output = request.query.get("format", "html")
        if output not in FORMATS:
            output = "html"
        if output not in (("html", "json") if self.json_enabled else ("html",)):
            return self.error(403, None, None)
        query = request.query.get("q", "")
        if output == "html":
            return web.Response(text="<!doctype html><title>SearXNG</title>",
                                content_type="text/html")
        if not query:
            return web.json_response({"error": "No query"}, status=400)
        hits = self.hits_for(query)
        return web.json_response({
            "query": query,
            "number_of_results": 0,
            "results": [result_object(hit, n) for n, hit in enumerate(hits, start=1)],
            "answers": [], "corrections": [], "infoboxes": [], "suggestions": [],
            "unresponsive_engines": [list(pair) for pair in self.unresponsive],
        })
