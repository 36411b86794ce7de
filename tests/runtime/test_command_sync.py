"""The stand-in's command registry answers as Discord does, and the one-sync rule holds
against those answers: ``bot/runtime/command_sync.py`` must see no difference between what it
would upload and what Discord sends back for the same commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import pytest_asyncio
from discord import app_commands
from hypothesis import given
from hypothesis import strategies as st

from bot.runtime.command_sync import normalise, sync_if_changed
from tests.standins.discord_interactions import CommandRegistry
from tests.standins.discord_server import APPLICATION_ID, GUILD_A, DiscordStandIn, World


@pytest_asyncio.fixture
async def client(discord_standin: DiscordStandIn) -> AsyncIterator[discord.Client]:
    with discord_standin.redirect():
        client = discord.Client(intents=discord.Intents.none())
        await client.login(discord_standin.token)
        try:
            yield client
        finally:
            await client.close()


def chat_command(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"the {name} command", "type": 1}


async def test_global_commands_come_back_with_discords_defaults(client: discord.Client) -> None:
    (stored,) = await client.http.bulk_upsert_global_commands(
        APPLICATION_ID, [{"name": "ask", "description": "Ask"}]
    )
    assert int(stored["id"]) > 0
    assert int(stored["version"]) > 0
    assert {k: v for k, v in stored.items() if k not in ("id", "version")} == {
        "application_id": str(APPLICATION_ID), "name": "ask", "description": "Ask",
        "type": 1, "default_member_permissions": None, "dm_permission": True, "nsfw": False,
        "contexts": [0, 1, 2], "integration_types": [0],
        "name_localizations": None, "description_localizations": None,
    }


async def test_guild_commands_have_a_guild_and_no_global_only_fields(
    client: discord.Client,
) -> None:
    (stored,) = await client.http.bulk_upsert_guild_commands(
        APPLICATION_ID, GUILD_A, [chat_command("ask")]
    )
    assert stored["guild_id"] == str(GUILD_A)
    assert "contexts" not in stored
    assert "dm_permission" not in stored


async def test_a_resync_keeps_ids_bumps_versions_and_creates_nothing(
    client: discord.Client, discord_standin: DiscordStandIn
) -> None:
    (first,) = await client.http.bulk_upsert_global_commands(APPLICATION_ID,
                                                            [chat_command("ask")])
    (again,) = await client.http.bulk_upsert_global_commands(APPLICATION_ID,
                                                            [chat_command("ask")])
    assert again["id"] == first["id"]
    assert int(again["version"]) > int(first["version"])
    assert discord_standin.commands.creates[None] == 1


async def test_the_201st_create_of_the_day_is_refused(client: discord.Client) -> None:
    # 200 creates a day per scope (Discord's limit), at most 100 commands per upload.
    for batch in ("a", "b"):
        await client.http.bulk_upsert_global_commands(
            APPLICATION_ID, [chat_command(f"{batch}{i}") for i in range(100)]
        )
    await client.http.bulk_upsert_guild_commands(APPLICATION_ID, GUILD_A,
                                                 [chat_command("elsewhere")])
    await client.http.bulk_upsert_global_commands(
        APPLICATION_ID, [chat_command(f"b{i}") for i in range(100)]
    )  # updates of existing commands are not creates
    client.http.max_ratelimit_timeout = 30.0  # raise at once instead of sleeping a day
    with pytest.raises(discord.RateLimited):
        await client.http.bulk_upsert_global_commands(APPLICATION_ID, [chat_command("c0")])


async def test_the_bots_commands_sync_once_against_discords_answers(
    client: discord.Client, discord_standin: DiscordStandIn
) -> None:
    tree = app_commands.CommandTree(client)

    @tree.command(name="ask", description="Ask the model")
    @app_commands.describe(question="what to ask")
    async def ask(interaction: discord.Interaction, question: str, private: bool = False) -> None:
        return None

    assert await sync_if_changed(tree) is True
    assert await sync_if_changed(tree) is False
    assert len(discord_standin.application_commands()) == 1


OPTION = st.fixed_dictionaries(
    {"type": st.sampled_from([3, 4, 5, 10]),
     "name": st.from_regex(r"[a-z]{1,10}", fullmatch=True),
     "description": st.text(min_size=1, max_size=20)},
    optional={"required": st.booleans(), "autocomplete": st.booleans()},
)
COMMAND = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True),
     "description": st.text(min_size=1, max_size=100),
     "options": st.lists(OPTION, max_size=5, unique_by=lambda o: o["name"])},
    optional={
        "type": st.just(1),
        "nsfw": st.booleans() | st.none(),
        "contexts": st.none() | st.lists(st.sampled_from([0, 1, 2]), min_size=1, unique=True),
        "integration_types": st.none() | st.just([0]),
        "default_member_permissions": st.none() | st.just("8"),
        "dm_permission": st.booleans(),
    },
)


@given(st.lists(COMMAND, max_size=5, unique_by=lambda c: c["name"]))
def test_what_discord_stores_normalises_to_what_was_sent(commands: list[dict[str, Any]]) -> None:
    registry = CommandRegistry(World(), APPLICATION_ID)
    stored = registry.overwrite(None, commands)
    assert normalise(stored) == normalise(commands)
