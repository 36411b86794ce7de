"""One rule for every application command: the bot's ``CommandTree``.

discord.py consults a cog's ``interaction_check`` only for that cog's own commands
(``Command._check_can_run``), so a check kept in one cog leaves every other cog's commands
open. The tree's ``interaction_check`` runs before any command is even looked up
(``CommandTree._call``), for slash commands, subcommands, context menus and autocomplete
alike: the place for rules that hold everywhere (not during shutdown, only where the bot is
enabled, only with well-formed options). Its ``on_error`` is the one place command errors
become a sentence for the user and a traceback for the operator.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import discord
from discord import app_commands

from bot.config.settings import Settings

log = logging.getLogger(__name__)

NOT_HERE = "I'm not enabled here."
RESTARTING = "I'm restarting right now. Please try again in a moment."
BAD_OPTIONS = "That command's options don't look right. Try `/help` to see how to use it."
FAILED = "Something went wrong on my side. Please try again."

_PYTHON_TYPES = {
    discord.AppCommandOptionType.string: (str,),
    discord.AppCommandOptionType.integer: (int,),
    discord.AppCommandOptionType.number: (int, float),
    discord.AppCommandOptionType.boolean: (bool,),
}
_SUBCOMMAND_TYPES = (
    discord.AppCommandOptionType.subcommand.value,
    discord.AppCommandOptionType.subcommand_group.value,
)


@runtime_checkable
class Admission(Protocol):
    """What the tree asks of the client it serves: whether it still takes new work, and
    where it is enabled."""

    accepting: bool
    settings: Settings


class NotHere(app_commands.CheckFailure):
    """The command was used in a guild outside the allowlist, or in a DM with DMs off."""


class Restarting(app_commands.CheckFailure):
    """The bot is shutting down and takes no new work."""


class MalformedOptions(app_commands.CheckFailure):
    """Options that Discord's own client would have refused."""


def leaf_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The options of the subcommand actually invoked: Discord nests them under each
    subcommand group and subcommand option (a bounded depth of two)."""
    while options and options[0].get("type") in _SUBCOMMAND_TYPES:
        options = options[0].get("options") or []
    return options


def malformed_option(command: app_commands.Command[Any, ..., Any],
                     options: list[dict[str, Any]]) -> str | None:
    """The first option whose name, type or range does not match the command's schema.

    Discord's clients enforce the schema, but discord.py trusts the payload: a stale client
    (commands changed since it cached them) or a forged request reaches the command as is.
    """
    for option in options:
        parameter = command.get_parameter(str(option.get("name")))
        if parameter is None or parameter.type.value != option.get("type"):
            return f"unknown option {option.get('name')!r}"
        value = option.get("value")
        expected = _PYTHON_TYPES.get(parameter.type)
        if expected is None:
            continue
        if not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
            return f"{parameter.name} has the wrong type"
        size = len(value) if isinstance(value, str) else value
        if not isinstance(size, int | float):
            continue
        low, high = parameter.min_value, parameter.max_value
        if (low is not None and size < low) or (high is not None and size > high):
            return f"{parameter.name} is out of range"
    return None


async def tell(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral answer, whether or not the interaction was already acknowledged."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


class ChatCommandTree(app_commands.CommandTree[discord.Client]):
    """The tree the bot is built with (``tree_cls``)."""

    def admission(self) -> Admission:
        client = self.client
        if not isinstance(client, Admission):
            raise TypeError(f"{type(client).__name__} has no `accepting` and `settings`")
        return client

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Every command: not during shutdown, only where the bot is enabled, and only with
        well-formed options. An autocomplete that may not run gets no choices and no
        sentence (Discord allows only choices as its answer); its focused value is partial
        text by design, so only a command's own invocation has its options checked."""
        admission = self.admission()
        settings = admission.settings
        allowed = (
            settings.answer_dms
            if interaction.guild_id is None
            else settings.guild_allowed(interaction.guild_id)
        )
        if interaction.type is discord.InteractionType.autocomplete:
            return admission.accepting and allowed
        if not admission.accepting:
            raise Restarting
        if not allowed:
            raise NotHere
        command = interaction.command
        if isinstance(command, app_commands.Command):
            given = interaction.data.get("options") if interaction.data else None
            options = leaf_options(given if isinstance(given, list) else [])
            problem = malformed_option(command, options)
            if problem:
                raise MalformedOptions(problem)
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        """Users get a sentence, operators the traceback; a failed sentence is logged."""
        if isinstance(
            error,
            MalformedOptions
            | app_commands.TransformerError
            | app_commands.CommandSignatureMismatch
            | app_commands.CommandNotFound,
        ):
            log.info("bad slash command input from %s: %s", interaction.user.id, error)
            text = BAD_OPTIONS
        elif isinstance(error, NotHere):
            text = NOT_HERE
        elif isinstance(error, Restarting):
            text = RESTARTING
        else:
            log.error("slash command failed", exc_info=error)
            text = FAILED
        try:
            await tell(interaction, text)
        except discord.HTTPException as send_error:
            log.warning("could not report a command error: %s", send_error)
