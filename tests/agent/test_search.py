"""The search client against the SearXNG and Brave stand-ins: results, bounds, failures."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.agent.search import (
    MAX_RESULTS,
    MAX_SNIPPET,
    MAX_TITLE,
    BraveSearch,
    SearchFailed,
    SearchResult,
    SearXNGSearch,
    clean_text,
)
from tests.standins.brave_server import BraveStandIn
from tests.standins.search_base import Hit
from tests.standins.searxng_server import SearXNGStandIn

KEY = "brave-secret-key-1234"
MARKED = Hit("<strong>discord.py</strong> 2.7 &amp; more", "https://example.org/dpy",
             "The <strong>release</strong> notes &mdash; <em>all</em> of them.")


async def test_searxng_results_come_back_clean_and_bounded() -> None:
    async with SearXNGStandIn() as searx:
        searx.hits = [MARKED, Hit("no url scheme", "javascript:alert(1)", "x"),
                      *(Hit("t" * 1000, f"https://example.org/{n}", "s " * 1000)
                        for n in range(10))]
        client = SearXNGSearch(searx.base_url)
        try:
            results = await client.search("  discord.py\n release ")
        finally:
            await client.close()
    assert len(results) == MAX_RESULTS
    assert results[0] == SearchResult("discord.py 2.7 & more", "https://example.org/dpy",
                                      "The release notes — all of them.")
    assert all(len(r.title) <= MAX_TITLE and len(r.snippet) <= MAX_SNIPPET for r in results)
    assert results[1].url == "https://example.org/0"
    assert searx.requests[0].query == {"q": "discord.py release", "format": "json"}


async def test_searxng_with_json_off_fails_with_a_reason_naming_the_setting() -> None:
    async with SearXNGStandIn() as searx:
        searx.json_enabled = False
        client = SearXNGSearch(searx.base_url)
        try:
            with pytest.raises(SearchFailed, match="answered 403: JSON output is not enabled"):
                await client.search("x")
        finally:
            await client.close()


async def test_brave_sends_the_key_in_its_header_and_reads_web_results() -> None:
    async with BraveStandIn(api_key=KEY) as brave:
        brave.hits = [MARKED]
        client = BraveSearch(SecretStr(KEY), brave.base_url, max_results=3)
        try:
            results = await client.search("dpy")
        finally:
            await client.close()
    assert results == [SearchResult("discord.py 2.7 & more", "https://example.org/dpy",
                                    "The release notes — all of them.")]
    [request] = brave.requests
    assert request.headers["x-subscription-token"] == KEY
    assert request.query == {"q": "dpy", "count": "3"}
    assert KEY not in repr(client)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda b: b.fail_next(429), "the search service answered 429: rate limited"),
        (lambda b: b.fail_next(401), "the search service answered 401: the API key was refused"),
        (lambda b: setattr(b, "api_key", "another"),
         "the search service answered 422: the request or the API key was refused"),
    ],
    ids=["429", "401", "wrong-key-422"],
)
async def test_brave_refusals_become_one_failure_without_the_key(
    setup: object, reason: str
) -> None:
    async with BraveStandIn(api_key=KEY) as brave:
        setup(brave)  # type: ignore[operator]
        client = BraveSearch(SecretStr(KEY), brave.base_url)
        try:
            with pytest.raises(SearchFailed) as failed:
                await client.search("x")
        finally:
            await client.close()
    assert failed.value.reason == reason
    assert KEY not in str(failed.value) and KEY not in repr(failed.value)


async def test_brave_rate_limit_reached_for_real_is_the_same_429() -> None:
    async with BraveStandIn(api_key=KEY) as brave:
        brave.rate_per_second = 1
        client = BraveSearch(SecretStr(KEY), brave.base_url)
        reasons = []
        try:
            for _ in range(3):  # three quick calls: at least two share one second
                try:
                    await client.search("x")
                except SearchFailed as failed:
                    reasons.append(failed.reason)
        finally:
            await client.close()
    assert reasons and set(reasons) == {"the search service answered 429: rate limited"}


async def test_a_service_that_never_answers_fails_at_the_time_limit() -> None:
    limit = 0.3
    async with SearXNGStandIn() as searx:
        searx.hang_next()
        client = SearXNGSearch(searx.base_url, timeout=limit)
        started = time.monotonic()
        try:
            with pytest.raises(SearchFailed, match=r"did not answer within 0\.3 seconds"):
                await client.search("x")
            elapsed = time.monotonic() - started
            assert len(await client.search("x")) == 3  # the session survives a time-out
        finally:
            await client.close()
    assert limit <= elapsed < limit + 1.0


async def test_an_unreachable_service_and_an_empty_query_fail_with_their_reasons() -> None:
    searx = SearXNGStandIn()
    await searx.start()
    url = searx.base_url
    await searx.stop()
    client = SearXNGSearch(url)
    try:
        with pytest.raises(SearchFailed, match="could not be reached"):
            await client.search("x")
        with pytest.raises(SearchFailed, match="the search query is empty"):
            await client.search(" \n\t ")
    finally:
        await client.close()


async def test_an_answer_without_results_fails_with_its_reason() -> None:
    async with SearXNGStandIn() as searx:
        searx.fail_next(200, body={"error": "search error"})
        client = SearXNGSearch(searx.base_url)
        try:
            with pytest.raises(SearchFailed, match="an answer without results"):
                await client.search("x")
        finally:
            await client.close()


MARKUP = st.sampled_from(["<", ">", "&", ";", "a", "b", " ", "\n", "/", "amp", "lt", "gt",
                          "#60", "#x3e", "strong", "é", "\x00", "\u200b"]) | st.text(max_size=3)


@given(raw=st.lists(MARKUP, max_size=40).map("".join), limit=st.integers(0, 300))
def test_cleaned_text_is_bounded_and_has_no_tags_left(raw: str, limit: int) -> None:
    cleaned = clean_text(raw, limit)
    assert len(cleaned) <= limit
    assert "<" not in cleaned and ">" not in cleaned
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert cleaned.isprintable()


@given(words=st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=8), max_size=30))
def test_plain_words_pass_through_unchanged(words: list[str]) -> None:
    text = " ".join(words)
    assert clean_text(f"<b>{text}</b>", 1000) == text


def test_a_lone_angle_bracket_keeps_the_words_after_it() -> None:
    assert clean_text("a <b>bold</b> claim: 2 < 3 < 4", 100) == "a bold claim: 2 3 4"


@pytest.mark.parametrize("unit", ["<", "<a", "&amp;", "<<>>", "&#"])
def test_work_is_bounded_by_the_limit_not_the_input(unit: str) -> None:
    limit = 50
    huge = unit * 1_000_000
    assert clean_text(huge, limit) == clean_text(huge[: 16 * limit], limit)
