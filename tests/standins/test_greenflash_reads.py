"""The stand-in's read endpoints and prompt objects, through the real SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import greenflash
import pytest
import pytest_asyncio

from tests.standins.greenflash_reads import PLAN_REFUSAL
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.test_greenflash import PRODUCT, client_for, log_message


@pytest_asyncio.fixture
async def client(
    greenflash_standin: GreenflashStandIn,
) -> AsyncIterator[greenflash.AsyncGreenflash]:
    sdk = client_for(greenflash_standin)
    try:
        yield sdk
    finally:
        await sdk.close()


async def test_organization_analytics_by_greenflash_id_in_both_modes(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    org_id = greenflash_standin.script_organization_analytics(
        "guild-1", conversations=12, quality_index=0.82, rating=4.5, sentiment=0.5,
        frustration=0.7, topics={"billing": 3}, keywords={"refund": 2}, summary="Calm.",
    )
    [listed] = await client.organizations.list()
    insights = await client.organizations.get_organization_analytics(listed.id)
    simple = await client.organizations.get_organization_analytics(org_id, mode="simple")

    assert (listed.id, listed.external_id) == (org_id, "guild-1")
    assert insights.total_conversations == 12
    assert insights.average_conversation_quality_index == 0.82
    assert insights.average_conversation_rating == 4.5
    assert insights.average_user_sentiment.label == "positive"
    assert insights.average_frustration.label == "high"
    assert [(t.name, t.count) for t in insights.topics or []] == [("billing", 3)]
    assert insights.summary is not None and insights.summary.analysis == "Calm."
    assert simple.total_conversations == 12
    assert (simple.topics, simple.keywords, simple.summary) == (None, None, None)
    assert greenflash_standin.accepted_for(f"/organizations/{org_id}/analytics")[1].query == {
        "mode": "simple"}


async def test_organization_analytics_count_logged_conversations_unscripted(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    await log_message(client, "m1", "channel-1", external_organization_id="guild-7")
    await log_message(client, "m2", "channel-2", external_organization_id="guild-7")
    org_id = greenflash_standin.organizations["guild-7"]["id"]

    figures = await client.organizations.get_organization_analytics(org_id)

    assert figures.total_conversations == 2


@pytest.mark.parametrize("path_id", ["guild-1", "org-unknown"], ids=["external-id", "unknown"])
async def test_organization_analytics_404_for_anything_but_a_known_greenflash_id(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash, path_id: str
) -> None:
    greenflash_standin.script_organization_analytics("guild-1", conversations=3)

    with pytest.raises(greenflash.NotFoundError):
        await client.organizations.get_organization_analytics(path_id)


async def test_organization_without_conversations_is_404(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    org_id = greenflash_standin.script_organization_analytics("guild-1", conversations=0)

    with pytest.raises(greenflash.NotFoundError):
        await client.organizations.get_organization_analytics(org_id)


async def test_organizations_list_pages(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    for number in range(3):
        greenflash_standin.script_organization_analytics(f"guild-{number}", conversations=1)

    second = await client.organizations.list(limit=2, page=2)
    offset = await client.organizations.list(limit=2, offset=1)

    assert [org.external_id for org in second] == ["guild-2"]
    assert [org.external_id for org in offset] == ["guild-1", "guild-2"]
    with pytest.raises(greenflash.BadRequestError):
        await client.organizations.list(limit=101)


@pytest.mark.parametrize("target", ["organization", "prompt"])
async def test_free_plan_refuses_analytics_with_403_but_not_the_inbox(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash, target: str
) -> None:
    org_id = greenflash_standin.script_organization_analytics("guild-1", conversations=1)
    prompt_id = greenflash_standin.script_prompt_analytics("persona:1:abc", conversations=1)
    greenflash_standin.plan = "free"

    with pytest.raises(greenflash.PermissionDeniedError) as refused:
        if target == "organization":
            await client.organizations.get_organization_analytics(org_id)
        else:
            await client.prompts.get_prompt_analytics(prompt_id)

    assert refused.value.body == {"success": False, "error": PLAN_REFUSAL,
                                  "issues": [PLAN_REFUSAL]}
    assert await client.inbox.list() == []


async def test_bad_key_is_401_on_reads(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    greenflash_standin.valid_key = "the-right-key"

    with pytest.raises(greenflash.AuthenticationError):
        await client.inbox.list()


async def test_inbox_lists_flagged_conversations_and_their_details(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    mine = greenflash_standin.flag_for_review(
        "channel-1", organization="guild-1", severity=4, trigger="guardrail", topic="Refunds")
    theirs = greenflash_standin.flag_for_review(
        "channel-9", organization="guild-2", severity=2, trigger="novelty")
    greenflash_standin.flag_for_review("channel-3", organization="guild-1", status="reviewed")

    unreviewed = await client.inbox.list()
    severe = await client.inbox.list(min_severity=3)
    novel = await client.inbox.list(trigger_type="novelty")
    item = await client.inbox.get(mine)
    where = await client.interactions.get(theirs)

    assert [(i.conversation_id, i.trigger_type) for i in unreviewed] == [
        (mine, "guardrail"), (theirs, "novelty")]
    assert unreviewed[0].topic == "Refunds"
    assert [i.conversation_id for i in severe] == [mine]
    assert [i.conversation_id for i in novel] == [theirs]
    assert [(t.trigger_type, t.severity) for t in item.triggers] == [("guardrail", 4)]
    assert item.review_status == "unreviewed"
    assert (where.external_id, where.organization_external_id) == ("channel-9", "guild-2")
    assert where.organization_id == greenflash_standin.organizations["guild-2"]["id"]
    with pytest.raises(greenflash.BadRequestError):
        await client.inbox.list(extra_query={"minSeverity": 6})


async def test_interaction_of_a_logged_conversation_names_its_channel_and_guild(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    logged = await log_message(client, "m1", "channel-5", external_organization_id="guild-5")

    detail = await client.interactions.get(logged.conversation_id)

    assert (detail.external_id, detail.organization_external_id) == ("channel-5", "guild-5")
    assert detail.product_id == PRODUCT


@pytest.mark.parametrize("call", [
    lambda sdk: sdk.inbox.get("conv-unknown"),
    lambda sdk: sdk.interactions.get("conv-unknown"),
    lambda sdk: sdk.prompts.get("prompt-unknown"),
    lambda sdk: sdk.prompts.get_prompt_analytics("prompt-unknown"),
], ids=["inbox-item", "interaction", "prompt", "prompt-analytics"])
async def test_unknown_ids_are_404(
    client: greenflash.AsyncGreenflash,
    call: Callable[[greenflash.AsyncGreenflash], Awaitable[Any]],
) -> None:
    with pytest.raises(greenflash.NotFoundError):
        await call(client)


async def test_prompt_object_is_recorded_versioned_and_counted(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    prompt = {
        "external_prompt_id": "persona:1:abc",
        "components": [
            {"content": "You are the assistant.", "type": "system", "name": "operator"},
            {"content": "Talk like a pirate.", "type": "system", "name": "persona"},
        ],
    }
    first = await log_message(client, "m1", "channel-1", system_prompt=prompt)
    await log_message(client, "m2", "channel-2", system_prompt=prompt)

    found = await client.prompts.get("persona:1:abc")
    figures = await client.prompts.get_prompt_analytics(first.system_prompt_prompt_id)
    carried = greenflash_standin.system_prompt_of("m2")

    assert found.prompt.id == first.system_prompt_prompt_id
    assert [c.content for c in found.prompt.components] == [
        "You are the assistant.", "Talk like a pirate."]
    assert [c.id for c in found.prompt.components] == first.system_prompt_component_ids
    assert figures.total_conversations == 2
    assert figures.last_used_at is not None
    assert carried is not None
    assert carried["externalPromptId"] == "persona:1:abc"
    assert [c["name"] for c in carried["components"]] == ["operator", "persona"]
    assert greenflash_standin.system_prompt_of("m-none") is None


async def test_scripted_prompt_figures(
    greenflash_standin: GreenflashStandIn, client: greenflash.AsyncGreenflash
) -> None:
    prompt_id = greenflash_standin.script_prompt_analytics(
        "persona:1:abc", conversations=7, quality_index=0.6, last_used_at="2025-01-02T03:04:05Z")

    figures = await client.prompts.get_prompt_analytics(prompt_id)

    assert (figures.total_conversations, figures.avg_quality_index, figures.last_used_at) == (
        7, 0.6, "2025-01-02T03:04:05Z")


@pytest.mark.parametrize(("system_prompt", "problem"), [
    pytest.param(42, "systemPrompt: expected a string or a prompt object", id="number"),
    pytest.param({"content": "a", "components": [{"content": "b"}]},
                 "systemPrompt: components and content are mutually exclusive", id="both"),
    pytest.param({"variables": {"name": "x"}}, "systemPrompt: one of components",
                 id="nothing-defined"),
    pytest.param({"components": [{"name": "persona"}]},
                 "systemPrompt.components[0].content: Required", id="component-no-content"),
    pytest.param({"components": [{"content": "b", "type": "persona"}]},
                 "systemPrompt.components[0].type: expected a valid value", id="bad-type"),
    pytest.param({"externalPromptId": 7}, "systemPrompt.externalPromptId: expected a string",
                 id="int-prompt-id"),
    pytest.param({"content": "a", "variables": {"n": 1}},
                 "systemPrompt.variables.n: expected a string", id="int-variable"),
])
async def test_malformed_prompt_object_is_400_naming_the_field(
    greenflash_standin: GreenflashStandIn,
    client: greenflash.AsyncGreenflash,
    system_prompt: Any,
    problem: str,
) -> None:
    with pytest.raises(greenflash.BadRequestError) as refused:
        await log_message(client, extra_body={"systemPrompt": system_prompt})

    assert problem in str(refused.value.body)
    assert greenflash_standin.accepted_for("/messages") == []
    assert greenflash_standin.system_prompts == []
