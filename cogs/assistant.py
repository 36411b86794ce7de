"""Admin commands that shape the assistant per channel: ``/persona``, ``/model``, ``/budget``,
``/threads``.

Discord shows the command groups only to members with Manage Server
(``default_permissions``; a server can grant them to other roles under Server Settings →
Integrations), and every change is checked again here, because default permissions are a
client-side default, not an enforcement: a member needs Manage Server or the role the
operator names in ``ADMIN_ROLE`` (its name or id). Refusals are ephemeral; a change is
announced publicly in one line, so people in the channel know what they are talking to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.conversation.admins import is_admin
from bot.conversation.personas import persona_name
from bot.storage import MAX_PERSONA_CHARS, Budget, Change, Storage, StorageUnavailable
from cogs.insights import persona_stats

if TYPE_CHECKING:
    from bot.client import ChatBot

NOT_ADMIN = "Only members with Manage Server{role} can change the assistant here."
NOT_SAVED = "I couldn't save that: my database isn't answering. Please try again in a minute."
NO_PERSONA = "This channel uses the default assistant (no persona set)."
# Discord returns at most 25 autocomplete choices.
MAX_CHOICES = 25
ANNOUNCE_PREVIEW = 120
NOT_IN_THREAD = "Threads are set for a channel: use `/threads` in the channel itself."
CHANGE_EVENTS = {
    "persona": "persona_changed", "model": "model_changed", "threads": "threads_changed"
}
MODEL_SOURCES = {
    "channel": "set for this channel",
    "parent": "set for the parent channel",
    "guild": "set for this server",
    "default": "the bot's default",
}


def model_choices(allowlist: tuple[str, ...], typed: str) -> list[str]:
    """The allowed models containing what was typed (case-insensitive), first 25."""
    needle = typed.strip().lower()
    return [name for name in allowlist if needle in name.lower()][:MAX_CHOICES]


def preview(text: str) -> str:
    """A persona squeezed onto one short line for the announcement."""
    flat = " ".join(text.split())
    return flat if len(flat) <= ANNOUNCE_PREVIEW else flat[: ANNOUNCE_PREVIEW - 1] + "…"


def announcement(change: Change) -> str:
    who = f"<@{change.user_id}>"
    if change.setting == "persona":
        if change.new is None:
            return f"{who} cleared this channel's persona: back to the default assistant."
        return f"{who} set this channel's persona: “{preview(change.new)}”"
    if change.setting == "model":
        where = "this server" if change.channel_id is None else "this channel"
        return f"{who} set the model for {where} to `{change.new}`."
    if change.setting == "threads":
        if change.new == "on":
            return f"{who} turned threads on here: each question gets a thread of its own."
        return f"{who} turned threads off here: questions are answered in the channel."
    return f"{who} set the daily budget per person to {change.new}."


def budget_line(budget: Budget) -> str:
    parts = [
        f"{budget.tokens} tokens" if budget.tokens is not None else "",
        f"{budget.messages} replies" if budget.messages is not None else "",
    ]
    return " or ".join(part for part in parts if part) or "no limit"


def _channel_ids(interaction: discord.Interaction) -> tuple[int, int | None]:
    channel = interaction.channel
    parent = channel.parent_id if isinstance(channel, discord.Thread) else None
    return interaction.channel_id or 0, parent


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class PersonaGroup(app_commands.Group, name="persona", description="This channel's persona."):
    pass


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ModelGroup(app_commands.Group, name="model", description="The model the assistant uses."):
    pass


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class BudgetGroup(app_commands.Group, name="budget", description="Daily use per person."):
    pass


class Assistant(commands.Cog):
    persona = PersonaGroup()
    model = ModelGroup()
    budget = BudgetGroup()

    def __init__(self, bot: ChatBot, storage: Storage) -> None:
        self.bot = bot
        self.storage = storage

    async def _change(
        self, interaction: discord.Interaction, save: Callable[[], Awaitable[Change]]
    ) -> None:
        """Every change: refuse non-admins and bad values ephemerally, else save and
        announce it in the channel."""
        member = interaction.user
        role = self.storage.config.admin_role
        if not is_admin(member, role):
            refusal = NOT_ADMIN.format(role=f" or the {role} role" if role else "")
            await interaction.response.send_message(refusal, ephemeral=True)
            return
        try:
            change = await save()
        except (ValueError, StorageUnavailable) as error:
            text = NOT_SAVED if isinstance(error, StorageUnavailable) else str(error)
            await interaction.response.send_message(text, ephemeral=True)
            return
        await interaction.response.send_message(announcement(change))
        self._record(interaction, change)

    def _record(self, interaction: discord.Interaction, change: Change) -> None:
        """``persona_changed`` / ``model_changed`` (neutral) in the channel's conversation,
        so Greenflash shows where one variant ends and the next begins."""
        if change.setting not in CHANGE_EVENTS:
            return
        if change.setting == "persona":
            value = persona_name(change.new, change.channel_id)
            before = persona_name(change.old, change.channel_id)
        else:
            value, before = change.new or "default", change.old or "default"
        self.bot.analytics.command_event(
            CHANGE_EVENTS[change.setting],
            guild_id=change.guild_id,
            channel_id=interaction.channel_id or 0,
            user_id=change.user_id,
            interaction_id=interaction.id,
            value=value,
            at=interaction.created_at,
            properties={
                "previous": before,
                "scope": "server" if change.channel_id is None else "channel",
            },
        )

    @persona.command(name="set", description="Give this channel (or thread) its own persona.")
    @app_commands.describe(text="The system prompt for this channel")
    async def persona_set(
        self,
        interaction: discord.Interaction,
        text: app_commands.Range[str, 1, MAX_PERSONA_CHARS],
    ) -> None:
        channel_id, _ = _channel_ids(interaction)
        await self._change(
            interaction,
            lambda: self.storage.set_persona(
                interaction.guild_id or 0, channel_id, text, by=interaction.user.id
            ),
        )

    @persona.command(name="clear", description="Go back to the default assistant here.")
    async def persona_clear(self, interaction: discord.Interaction) -> None:
        channel_id, _ = _channel_ids(interaction)
        await self._change(
            interaction,
            lambda: self.storage.clear_persona(
                interaction.guild_id or 0, channel_id, by=interaction.user.id
            ),
        )

    @persona.command(name="show", description="The persona in effect in this channel.")
    async def persona_show(self, interaction: discord.Interaction) -> None:
        channel_id, parent_id = _channel_ids(interaction)
        settings = await self.storage.settings_for(interaction.guild_id, channel_id, parent_id)
        if settings.persona is None:
            text = NO_PERSONA
        else:
            inherited = settings.persona_channel_id != channel_id
            where = " (from the parent channel)" if inherited else ""
            text = f"Persona in effect{where}:\n>>> {settings.persona}"
        await interaction.response.send_message(text, ephemeral=True)

    @persona.command(name="stats", description="Greenflash's figures for each persona used here.")
    async def persona_stats(self, interaction: discord.Interaction) -> None:
        await persona_stats(interaction, self.bot)

    @model.command(name="set", description="Choose the model for this channel or server.")
    @app_commands.describe(name="One of the models the operator allows", scope="Where it applies")
    async def model_set(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        scope: Literal["channel", "server"] = "channel",
    ) -> None:
        channel_id, _ = _channel_ids(interaction)
        await self._change(
            interaction,
            lambda: self.storage.set_model(
                interaction.guild_id or 0,
                channel_id if scope == "channel" else None,
                name,
                by=interaction.user.id,
            ),
        )

    @model_set.autocomplete("name")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=name, value=name)
            for name in model_choices(self.storage.config.model_allowlist, current)
        ]

    @model.command(name="show", description="The model in effect here, and the allowed ones.")
    async def model_show(self, interaction: discord.Interaction) -> None:
        channel_id, parent_id = _channel_ids(interaction)
        settings = await self.storage.settings_for(interaction.guild_id, channel_id, parent_id)
        allowed = ", ".join(f"`{name}`" for name in self.storage.config.model_allowlist)
        await interaction.response.send_message(
            f"Model in effect: `{settings.model}` ({MODEL_SOURCES[settings.model_source]}).\n"
            f"Allowed: {allowed}",
            ephemeral=True,
        )

    @app_commands.command(name="threads", description="Give each question here its own thread.")
    @app_commands.describe(mode="on: a thread per question; off: answers in the channel")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def threads(self, interaction: discord.Interaction, mode: Literal["on", "off"]) -> None:
        async def save() -> Change:
            if isinstance(interaction.channel, discord.Thread):
                raise ValueError(NOT_IN_THREAD)
            return await self.storage.set_threads(
                interaction.guild_id or 0, interaction.channel_id or 0, mode == "on",
                by=interaction.user.id,
            )

        await self._change(interaction, save)

    @budget.command(name="set", description="How much one person may use per day here.")
    @app_commands.describe(
        tokens="Tokens per person per day; 0 = unlimited, empty = the bot's default",
        messages="Replies per person per day; 0 = unlimited, empty = the bot's default",
    )
    async def budget_set(
        self,
        interaction: discord.Interaction,
        tokens: app_commands.Range[int, 0, 10**12] | None = None,
        messages: app_commands.Range[int, 0, 10**6] | None = None,
    ) -> None:
        await self._change(
            interaction,
            lambda: self.storage.set_budget(
                interaction.guild_id or 0, tokens=tokens, messages=messages,
                by=interaction.user.id,
            ),
        )

    @budget.command(name="show", description="The daily budget here and your use today.")
    async def budget_show(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id
        budget = await self.storage.budget_for(guild_id)
        usage = await self.storage.usage(guild_id, interaction.user.id)
        used = "unknown" if usage is None else f"{usage.tokens} tokens, {usage.messages} replies"
        resets = int(self.storage.reset_time().timestamp())
        await interaction.response.send_message(
            f"Daily budget per person: {budget_line(budget)}.\nYou used today: {used}. "
            f"Resets <t:{resets}:R> (00:00 UTC).",
            ephemeral=True,
        )


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Assistant(bot, bot.storage))
