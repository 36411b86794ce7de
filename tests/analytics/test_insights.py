"""The insights reader against the Greenflash stand-in, through the client the bot builds."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import greenflash
import pytest
import pytest_asyncio

from bot.analytics.insights import PAGE_SIZE, SENTENCES, InsightsReader, Outcome
from bot.greenflash_client import build_client
from tests.helpers import greenflash_settings
from tests.standins.greenflash_server import GreenflashStandIn

GUILD = "111"
OTHER_GUILD = "222"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


ReaderFactory = Callable[..., InsightsReader]


@pytest_asyncio.fixture
async def make_reader(greenflash_standin: GreenflashStandIn) -> AsyncIterator[ReaderFactory]:
    """Readers on the client ``build_client`` makes, with the bot's default retries (2):
    the reader must turn them off itself."""
    clients: list[greenflash.AsyncGreenflash | None] = []

    def make(**options: Any) -> InsightsReader:
        client = build_client(greenflash_settings(greenflash_standin.base_url))
        clients.append(client)
        return InsightsReader(client, **options)

    yield make
    for client in clients:
        if client is not None:
            await client.close()


def requests_to(standin: GreenflashStandIn, path: str) -> int:
    """Every request to ``path`` the stand-in saw, answered or not."""
    return sum(record.path == path
               for record in (*standin.accepted, *standin.failed, *standin.abandoned))


async def test_reads_the_guilds_figures(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    org_id = greenflash_standin.script_organization_analytics(
        GUILD, conversations=12, quality_index=0.82, rating=4.5, sentiment=0.5,
        frustration=0.1, topics={"billing": 3}, keywords={"refund": 2}, summary="Calm.")
    greenflash_standin.script_organization_analytics(OTHER_GUILD, conversations=99)

    read = await make_reader().organization(GUILD, insights=True)

    assert read.outcome is Outcome.READ and read.sentence is None
    figures = read.value
    assert figures is not None
    assert (figures.conversations, figures.quality_index, figures.rating) == (12, 0.82, 4.5)
    assert (figures.sentiment.label, figures.frustration.label) == ("positive", "low")
    assert [(t.name, t.count) for t in figures.topics] == [("billing", 3)]
    assert [(k.name, k.count) for k in figures.keywords] == [("refund", 2)]
    assert figures.summary == "Calm."
    [analytics] = greenflash_standin.accepted_for(f"/organizations/{org_id}/analytics")
    assert analytics.query == {"mode": "insights"}


async def test_simple_mode_by_default(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    org_id = greenflash_standin.script_organization_analytics(
        GUILD, conversations=3, topics={"billing": 3})

    read = await make_reader().organization(GUILD)

    assert read.value is not None and read.value.topics == ()
    [analytics] = greenflash_standin.accepted_for(f"/organizations/{org_id}/analytics")
    assert analytics.query == {"mode": "simple"}


async def test_second_read_within_the_ttl_is_served_from_the_cache(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    org_id = greenflash_standin.script_organization_analytics(GUILD, conversations=5)
    path = f"/organizations/{org_id}/analytics"
    clock = Clock()
    reader = make_reader(ttl=600.0, clock=clock)

    first = await reader.organization(GUILD)
    clock.now += 599.0
    second = await reader.organization(GUILD)
    cached_requests = requests_to(greenflash_standin, path)
    clock.now += 2.0
    third = await reader.organization(GUILD)

    assert first == second == third
    assert cached_requests == 1
    assert requests_to(greenflash_standin, path) == 2
    assert requests_to(greenflash_standin, "/organizations") == 1  # the id is kept


async def test_plan_refusal(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    greenflash_standin.script_organization_analytics(GUILD, conversations=5)
    greenflash_standin.plan = "free"

    read = await make_reader().organization(GUILD)

    assert read.outcome is Outcome.PLAN
    assert read.sentence is not None and "Growth plan" in read.sentence


@pytest.mark.parametrize("conversations", [None, 0], ids=["unknown-guild", "no-conversations"])
async def test_nothing_yet(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory, conversations: int | None
) -> None:
    greenflash_standin.script_organization_analytics(OTHER_GUILD, conversations=4)
    if conversations is not None:
        greenflash_standin.script_organization_analytics(GUILD, conversations=conversations)

    read = await make_reader().organization(GUILD)

    assert read.outcome is Outcome.NOTHING_YET
    assert read.sentence == SENTENCES[Outcome.NOTHING_YET]


async def test_time_out_within_the_limit_and_without_a_retry(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    org_id = greenflash_standin.script_organization_analytics(GUILD, conversations=5)
    path = f"/organizations/{org_id}/analytics"
    limit = 0.5
    greenflash_standin.answer_late_next(limit * 4, path=path)
    reader = make_reader(time_limit=limit)

    started = time.monotonic()
    read = await reader.organization(GUILD)
    elapsed = time.monotonic() - started

    assert read.outcome is Outcome.TIMED_OUT
    assert limit <= elapsed < limit * 2
    assert requests_to(greenflash_standin, path) == 1
    again = await reader.organization(GUILD)  # a time-out is not cached
    assert again.outcome is Outcome.READ
    assert requests_to(greenflash_standin, path) == 2


async def test_server_error_is_not_retried(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    org_id = greenflash_standin.script_organization_analytics(GUILD, conversations=5)
    path = f"/organizations/{org_id}/analytics"
    greenflash_standin.fail_next(500, times=3, path=path)

    with caplog.at_level(logging.WARNING):
        read = await make_reader().organization(GUILD)

    assert read.outcome is Outcome.FAILED
    assert requests_to(greenflash_standin, path) == 1
    assert "InternalServerError (HTTP 500)" in caplog.text


async def test_rejected_key_fails_without_showing_it(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    greenflash_standin.valid_key = "another-key"
    secret = greenflash_settings(greenflash_standin.base_url).api_key
    assert secret is not None
    key = secret.get_secret_value()

    with caplog.at_level(logging.DEBUG):
        read = await make_reader().organization(GUILD)

    assert read.outcome is Outcome.FAILED
    assert key not in repr(read) and key not in str(read.sentence)
    assert "AuthenticationError (HTTP 401)" in caplog.text
    assert key not in caplog.text


async def test_unreachable(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    await greenflash_standin.down()

    read = await make_reader().organization(GUILD)

    assert read.outcome is Outcome.UNREACHABLE
    assert read.sentence == SENTENCES[Outcome.UNREACHABLE]


async def test_off_without_a_client() -> None:
    reader = InsightsReader(None)

    reads = [await reader.organization(GUILD), await reader.inbox(GUILD),
             *(await reader.prompts(["persona:1:a"])).values()]

    assert {read.outcome for read in reads} == {Outcome.OFF}
    assert reads[0].sentence == SENTENCES[Outcome.OFF]


async def test_inbox_lists_only_this_guilds_unreviewed_conversations(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    severe = greenflash_standin.flag_for_review(
        "channel-1", organization=GUILD, severity=4, trigger="guardrail", topic="Refunds")
    mild = greenflash_standin.flag_for_review(
        "thread-2", organization=GUILD, severity=2, trigger="novelty")
    greenflash_standin.flag_for_review("channel-9", organization=OTHER_GUILD, severity=5)
    greenflash_standin.flag_for_review("channel-3", organization=GUILD, status="reviewed")
    reader = make_reader()

    read = await reader.inbox(GUILD)
    other = await reader.inbox(OTHER_GUILD)

    assert read.outcome is Outcome.READ and read.value is not None
    assert [(f.conversation_id, f.channel_id, f.severity, f.trigger, f.topic)
            for f in read.value] == [
        (severe, "channel-1", 4, "guardrail", "Refunds"),
        (mild, "thread-2", 2, "novelty", None),
    ]
    assert other.value is not None and [f.channel_id for f in other.value] == ["channel-9"]
    # each conversation's place was looked up once, for both guilds
    assert len(greenflash_standin.accepted_for("/interactions/" + severe)) == 1


async def test_inbox_of_a_guild_with_nothing_flagged_is_empty(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    greenflash_standin.flag_for_review("channel-9", organization=OTHER_GUILD)

    read = await make_reader().inbox(GUILD)

    assert read.outcome is Outcome.READ and read.value == ()


async def test_prompt_figures_side_by_side(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    greenflash_standin.script_prompt_analytics(
        "persona:111:aaa", conversations=7, quality_index=0.6, last_used_at="2025-01-02T03:04:05Z")
    greenflash_standin.script_prompt_analytics("persona:111:bbb", conversations=2)
    reader = make_reader()

    reads = await reader.prompts(["persona:111:aaa", "persona:111:bbb", "persona:111:zzz"])
    again = await reader.prompts(["persona:111:aaa"])

    assert list(reads) == ["persona:111:aaa", "persona:111:bbb", "persona:111:zzz"]
    first, second, unknown = reads.values()
    assert first.value is not None and second.value is not None
    assert (first.value.conversations, first.value.quality_index,
            first.value.last_used_at) == (7, 0.6, "2025-01-02T03:04:05Z")
    assert second.value.conversations == 2
    assert unknown.outcome is Outcome.NOTHING_YET
    assert again["persona:111:aaa"] == first
    assert len(greenflash_standin.accepted_for("/prompts/persona:111:aaa")) == 1


async def test_prompt_plan_refusal(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    greenflash_standin.script_prompt_analytics("persona:111:aaa", conversations=7)
    greenflash_standin.plan = "free"

    reads = await make_reader().prompts(["persona:111:aaa"])

    assert reads["persona:111:aaa"].outcome is Outcome.PLAN


async def test_guild_found_on_a_later_page_of_organizations(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    for number in range(PAGE_SIZE):
        greenflash_standin.script_organization_analytics(f"guild-{number}", conversations=1)
    greenflash_standin.script_organization_analytics(GUILD, conversations=8)

    read = await make_reader().organization(GUILD)

    assert read.value is not None and read.value.conversations == 8
    assert [r.query["page"] for r in greenflash_standin.accepted_for("/organizations")] == [
        "1", "2"]


async def test_flagged_conversation_greenflash_no_longer_has_is_left_out(
    greenflash_standin: GreenflashStandIn, make_reader: ReaderFactory
) -> None:
    kept = greenflash_standin.flag_for_review("channel-1", organization=GUILD)
    gone = greenflash_standin.flag_for_review("channel-2", organization=GUILD)
    del greenflash_standin.interactions[gone]

    read = await make_reader().inbox(GUILD)

    assert read.value is not None and [f.conversation_id for f in read.value] == [kept]
