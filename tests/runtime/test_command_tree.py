"""One rule for every command: each command the tree holds, enumerated from the tree (slash
commands, subcommands and context menus alike, so a command added later is covered without
anyone listing it), is refused where the bot is not enabled and while it shuts down, with
the tree's sentence, and changes nothing: no model call, no message, no analytics, no
stored setting."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from discord import AppCommandOptionType, AppCommandType, app_commands

from bot.client import ChatBot
from bot.runtime.command_tree import NOT_HERE, RESTARTING
from bot.storage import Storage, StorageConfig
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import until
from tests.standins.discord_interactions import Interaction
from tests.standins.discord_server import (
    ALICE_ID,
    BETA_CHANNEL,
    DM_ALICE,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
)

EPHEMERAL = 1 << 6
SENT_BY_THE_BOT = ("/messages", "/events", "/ratings", "/users", "/organizations")

Invoke = tuple[str, Any]


def sample(parameter: app_commands.Parameter) -> object:
    """A value the command's own schema accepts, so only the tree's rule can refuse it."""
    if parameter.choices:
        return parameter.choices[0].value
    low = parameter.min_value
    if parameter.type is AppCommandOptionType.string:
        return "x" * int(low or 1)
    if parameter.type in (AppCommandOptionType.integer, AppCommandOptionType.number):
        return low or 0
    if parameter.type is AppCommandOptionType.boolean:
        return True
    return ALICE_ID  # user, mentionable: a member of the seeded world


def every_command(bot: ChatBot) -> list[Invoke]:
    """``("slash", (qualified name, options))`` for each invocable slash command and
    subcommand, ``("menu", (name, type))`` for each context menu."""
    found: list[Invoke] = []
    for command in bot.tree.walk_commands():
        if isinstance(command, app_commands.Command):
            options = {p.name: sample(p) for p in command.parameters if p.required}
            found.append(("slash", (command.qualified_name, options)))
    for kind in (AppCommandType.user, AppCommandType.message):
        found += [("menu", (menu.name, kind.value)) for menu in bot.tree.walk_commands(type=kind)]
    return found


async def invoke(stands: Stands, what: Invoke, channel_id: int, target: int) -> Interaction:
    how, (name, detail) = what
    if how == "slash":
        return await stands.discord.slash_command(name, detail, channel_id=channel_id)
    return await stands.discord.context_menu(
        name, ALICE_ID if detail == AppCommandType.user.value else target,
        kind=detail, channel_id=channel_id,
    )


async def refused_with(interaction: Interaction, sentence: str, name: str) -> None:
    callback = await interaction.wait_for_callback()
    data = callback.get("data") or {}
    assert data.get("content") == sentence, f"{name} was answered with {callback}"
    assert data["flags"] & EPHEMERAL, name
    assert interaction.followups == [], name


async def kept_changes(config: StorageConfig, *guilds: int) -> list[object]:
    """Every setting change the database holds for ``guilds``, read after the bot closed."""
    storage = Storage(config)
    try:
        await storage.prepare()
        return [change for guild in guilds for change in await storage.recent_changes(guild)]
    finally:
        await storage.close()


def storage_in(tmp_path: Path, stands: Stands) -> StorageConfig:
    return StorageConfig(database_path=str(tmp_path / "bot.sqlite3"),
                         model_allowlist=(bot_settings(stands).model,))


async def test_every_command_is_refused_outside_the_allowlist_and_in_dms_when_off(
    stands: Stands, tmp_path: Path
) -> None:
    settings = bot_settings(stands, allowed_guild_ids=frozenset({GUILD_A}), answer_dms=False)
    config = storage_in(tmp_path, stands)
    async with running_bot(stands, settings, storage=config) as bot:
        commands = every_command(bot)
        assert {"ask", "persona set", "model set", "budget set"} <= {
            detail[0] for how, detail in commands if how == "slash"
        }, "the tree holds the commands and subcommands of every cog"
        target = await stands.discord.send_message(BETA_CHANNEL, "a message to point at")
        for what in commands:
            for channel_id in (BETA_CHANNEL, DM_ALICE):
                interaction = await invoke(stands, what, channel_id, int(target["id"]))
                await refused_with(interaction, NOT_HERE, f"{what} in {channel_id}")
        sent_before_close = stands.discord.sent_messages()
    # close() sent or dropped every analytics call: nothing can still be on its way.
    assert bot.analytics.stats.dropped == 0
    assert [m["content"] for m in sent_before_close] == [NOT_HERE] * 2 * len(commands)
    assert all(m["flags"] & EPHEMERAL for m in sent_before_close), "only the refusals, unseen"
    assert stands.openai.requests == []
    assert [r for path in SENT_BY_THE_BOT for r in stands.greenflash.accepted_for(path)] == []
    assert await kept_changes(config, GUILD_A, GUILD_B) == []


async def test_every_command_is_refused_while_the_bot_shuts_down(
    stands: Stands, tmp_path: Path
) -> None:
    """A reply in progress holds the shutdown open (the connection is still up) while each
    command arrives."""
    stands.openai.latency = 3.0
    stands.openai.script("The slow answer.")
    config = storage_in(tmp_path, stands)
    async with running_bot(stands, storage=config) as bot:
        commands = every_command(bot)
        slow = await stands.discord.send_message(GENERAL_CHANNEL, "slow one", mention_bot=True)
        await stands.openai.wait_for_requests(1)
        closing = asyncio.create_task(bot.close())
        await until(lambda: not bot.accepting, "the shutdown to begin")
        for what in commands:
            interaction = await invoke(stands, what, GENERAL_CHANNEL, int(slow["id"]))
            await refused_with(interaction, RESTARTING, str(what))
        assert not closing.done(), "every command arrived while the shutdown was under way"
        await closing
    assert len(stands.openai.requests) == 1, "only the reply in progress asked the model"
    seen = [m["content"] for m in stands.discord.sent_messages() if not m["flags"] & EPHEMERAL]
    assert seen == ["The slow answer."]
    logged = stands.greenflash.accepted_for("/messages")
    assert [r.json["messages"][0]["role"] for r in logged] == ["user", "assistant"]
    outcomes = ("/events", "/ratings")
    assert [r for path in outcomes for r in stands.greenflash.accepted_for(path)] == []
    assert await kept_changes(config, GUILD_A) == []
