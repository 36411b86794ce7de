"""The SearXNG and Brave stand-ins answer as the services document, errors included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from tests.standins.brave_server import PATH, BraveStandIn
from tests.standins.search_base import Hit
from tests.standins.searxng_server import SearXNGStandIn

HITS = [Hit("<strong>Discord</strong>.py 2.7", "https://example.org/dpy", "New &amp; improved",
            "brave")]


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


async def test_searxng_answers_its_json_shape_and_records_the_request(
    http: aiohttp.ClientSession,
) -> None:
    async with SearXNGStandIn() as searx:
        searx.hits = HITS
        searx.unresponsive = [("google", "timeout")]
        async with http.get(f"{searx.base_url}/search",
                            params={"q": "dpy", "format": "json"}) as response:
            body = await response.json()
    assert response.status == 200
    assert set(body) == {"query", "number_of_results", "results", "answers", "corrections",
                         "infoboxes", "suggestions", "unresponsive_engines"}
    [result] = body["results"]
    assert (result["url"], result["title"], result["content"], result["engine"]) == (
        "https://example.org/dpy", "<strong>Discord</strong>.py 2.7", "New &amp; improved",
        "brave")
    assert result["parsed_url"][:3] == ["https", "example.org", "/dpy"]
    assert body["unresponsive_engines"] == [["google", "timeout"]]
    assert [(r.path, r.query) for r in searx.requests] == [
        ("/search", {"q": "dpy", "format": "json"})]


async def test_searxng_without_json_in_its_formats_answers_403_html(
    http: aiohttp.ClientSession,
) -> None:
    async with SearXNGStandIn() as searx:
        searx.json_enabled = False
        async with http.get(f"{searx.base_url}/search",
                            params={"q": "x", "format": "json"}) as refused:
            page = await refused.text()
        async with http.get(f"{searx.base_url}/search",
                            params={"q": "x", "format": "yaml"}) as fallback:
            html = await fallback.text()
    assert (refused.status, refused.content_type) == (403, "text/html")
    assert "403 Forbidden" in page
    assert (fallback.status, fallback.content_type) == (200, "text/html")
    assert "SearXNG" in html


@pytest.mark.parametrize("params", [{"format": "json"}, {"format": "json", "q": ""}])
async def test_searxng_without_a_query_answers_400_no_query(
    http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    async with SearXNGStandIn() as searx, http.get(
        f"{searx.base_url}/search", params=params
    ) as response:
        assert (response.status, await response.json()) == (400, {"error": "No query"})


async def test_faults_and_latency_are_served_in_order(http: aiohttp.ClientSession) -> None:
    async with SearXNGStandIn() as searx:
        searx.fail_next(429)
        searx.hang_next()
        url, params = f"{searx.base_url}/search", {"q": "x", "format": "json"}
        async with http.get(url, params=params) as limited:
            assert limited.status == 429
            assert "Too Many Requests" in await limited.text()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2), http.get(url, params=params):
                pass
        searx.latency = 0.05
        async with http.get(url, params=params) as answered:
            assert len((await answered.json())["results"]) == 3
    assert len(searx.requests) == 3


async def test_brave_answers_web_results_with_rate_limit_headers(
    http: aiohttp.ClientSession,
) -> None:
    async with BraveStandIn(api_key="k1") as brave:
        brave.hits = HITS * 3
        async with http.get(brave.base_url + PATH, params={"q": "dpy", "count": "2"},
                            headers={"X-Subscription-Token": "k1"}) as response:
            body = await response.json()
    assert response.status == 200
    assert [(r["title"], r["url"], r["description"]) for r in body["web"]["results"]] == [
        ("<strong>Discord</strong>.py 2.7", "https://example.org/dpy", "New &amp; improved")
    ] * 2
    assert body["query"]["original"] == "dpy"
    assert response.headers["X-RateLimit-Limit"] == "1, 15000"
    assert response.headers["X-RateLimit-Policy"] == "1;w=1, 15000;w=2592000"
    assert response.headers["X-RateLimit-Remaining"] == "0, 14999"
    assert brave.requests[0].headers["x-subscription-token"] == "k1"


async def test_brave_refuses_a_missing_or_wrong_token_with_422(
    http: aiohttp.ClientSession,
) -> None:
    async with BraveStandIn(api_key="k1") as brave:
        url = brave.base_url + PATH
        async with http.get(url, params={"q": "x"}) as missing:
            missing_body = await missing.json()
        async with http.get(url, params={"q": "x"},
                            headers={"X-Subscription-Token": "nope"}) as wrong:
            wrong_body = await wrong.json()
        async with http.get(url, params={"q": "x", "count": "21"},
                            headers={"X-Subscription-Token": "k1"}) as too_many:
            too_many_body = await too_many.json()
    assert (missing.status, missing_body["type"], missing_body["error"]["code"]) == (
        422, "ErrorResponse", "VALIDATION")
    assert missing_body["error"]["meta"]["errors"][0]["loc"] == ["header", "x-subscription-token"]
    assert (wrong.status, wrong_body["error"]["code"], wrong_body["error"]["detail"]) == (
        422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.")
    assert too_many_body["error"]["meta"]["errors"][0]["loc"] == ["query", "count"]
    assert brave.quota_used == 0


async def test_brave_limits_the_rate_per_second_with_its_429(
    http: aiohttp.ClientSession,
) -> None:
    async with BraveStandIn(api_key="k1") as brave:
        brave.rate_per_second = 1
        statuses, limited = [], None
        for _ in range(3):  # three quick calls: at least two share one second
            async with http.get(brave.base_url + PATH, params={"q": "x"},
                                headers={"X-Subscription-Token": "k1"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    limited = (await response.json(), dict(response.headers))
    assert statuses[0] == 200
    assert limited is not None
    body, headers = limited
    assert (body["error"]["code"], body["error"]["detail"]) == (
        "RATE_LIMITED", "Request rate limit exceeded for plan")
    assert body["error"]["meta"]["component"] == "rate_limiter"
    assert headers["X-RateLimit-Remaining"].startswith("0, ")
    assert brave.quota_used == statuses.count(200)
