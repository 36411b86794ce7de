"""Slash commands: ``/ask``, ``/reset``, ``/help`` and ``/feedback``, and their errors.

``/ask`` is a receiving side like ``on_message``: it checks, defers at once (Discord kills an
interaction not answered within 3 s, and models are slower than that), logs the prompt to
Greenflash, and hands it to the chat cog. Refusals are ephemeral so they clutter nobody's
channel.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.conversation.notices import COOLDOWN, RESET_DONE
from bot.conversation.personas import DEFAULT_PERSONA
from bot.conversation.triggers import prompt_from_interaction, thread_parent

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

NOT_HERE = "I'm not enabled here."
RESTARTING = "I'm restarting right now. Please try again in a moment."
_PYTHON_TYPES = {
    discord.AppCommandOptionType.string: (str,),
    discord.AppCommandOptionType.integer: (int,),
    discord.AppCommandOptionType.number: (int, float),
    discord.AppCommandOptionType.boolean: (bool,),
}
BAD_OPTIONS = "That command's options don't look right. Try `/help` to see how to use it."
FAILED = "Something went wrong on my side. Please try again."
PRIVACY = (
    "Conversations with me (the messages addressed to me, the text of files attached to "
    "them, and my answers) are sent to Greenflash, an analytics service, to improve the "
    "assistant. Images are shown to the AI model, never to Greenflash, which only gets "
    "their names. Messages not addressed to me are never sent anywhere."
)


def persona_line(persona: str) -> str:
    if persona == DEFAULT_PERSONA:
        return "the default assistant"
    return "set by this server's admins (`/persona show`)"


class NotHere(app_commands.CheckFailure):
    """The command was used in a guild outside the allowlist, or in a DM with DMs off."""


class Restarting(app_commands.CheckFailure):
    """The bot is shutting down and takes no new work."""


class MalformedOptions(app_commands.CheckFailure):
    """Options that Discord's own client would have refused."""


def malformed_option(command: app_commands.Command, options: list[dict]) -> str | None:
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


class Commands(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = app_commands.CommandTree.on_error.__get__(self.bot.tree)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Every command: not during shutdown, only where the bot is enabled, and only with
        well-formed options."""
        if not self.bot.accepting:
            raise Restarting
        settings = self.bot.settings
        allowed = (
            settings.answer_dms
            if interaction.guild_id is None
            else settings.guild_allowed(interaction.guild_id)
        )
        if not allowed:
            raise NotHere
        command = interaction.command
        options = (interaction.data or {}).get("options", [])
        if isinstance(command, app_commands.Command):
            problem = malformed_option(command, options)  # type: ignore[arg-type]
            if problem:
                raise MalformedOptions(problem)
        return True

    @app_commands.command(name="ask", description="Ask the AI assistant a question.")
    @app_commands.describe(prompt="Your question or request")
    async def ask(
        self, interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000]
    ) -> None:
        question = prompt_from_interaction(interaction, prompt, self.bot.settings.max_prompt_chars)
        if not question.text:
            await tell(interaction, "Please type a question after `/ask`.")
            return
        retry = self.bot.retry_after(question)
        if retry:
            await tell(interaction, COOLDOWN.format(seconds=retry))
            return
        await interaction.response.defer(thinking=True)
        question = await self.bot.in_effect(question, interaction.user)
        analytics = self.bot.analytics
        analytics.keep(asyncio.create_task(analytics.log_user_message(question)))
        await self.bot.chat.answer_interaction(interaction, question)

    @app_commands.command(name="reset", description="Start a fresh conversation in this channel.")
    async def reset(self, interaction: discord.Interaction) -> None:
        if interaction.channel_id is None:
            await tell(interaction, NOT_HERE)
            return
        self.bot.chat.reset(interaction.channel_id)
        # Not ephemeral: the message is the marker that keeps the reset across restarts.
        await interaction.response.send_message(RESET_DONE)
        analytics = self.bot.analytics
        analytics.keep(
            asyncio.create_task(
                analytics.record_event(
                    "conversation_reset",
                    guild_id=interaction.guild_id,
                    conversation_id=interaction.channel_id,
                    user_id=interaction.user.id,
                    source_id=interaction.id,
                    influence="neutral",
                    value="reset",
                    occurred_at=interaction.created_at,
                )
            )
        )

    @app_commands.command(name="help", description="What this bot does and how to use it.")
    async def help(self, interaction: discord.Interaction) -> None:
        settings = self.bot.settings
        embed = discord.Embed(
            title="AI assistant",
            description=(
                "I answer questions with an AI model. Talk to me by mentioning me, replying "
                "to one of my messages, in DMs, or with `/ask`."
                + (" In chat channels I answer every message." if settings.chat_channel_ids else "")
            ),
        )
        voice = await self.bot.voice_for(
            interaction.guild_id, interaction.channel_id or 0, thread_parent(interaction.channel)
        )
        embed.add_field(name="Model", value=f"`{voice.model}`", inline=True)
        embed.add_field(name="Persona", value=persona_line(voice.persona), inline=True)
        embed.add_field(
            name="Commands",
            value="`/ask` ask a question\n`/reset` forget this channel's conversation\n"
            "`/feedback` rate this conversation\n`/help` this message",
            inline=True,
        )
        embed.add_field(
            name="Privacy",
            value=PRIVACY,
            inline=False,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="feedback", description="Rate this channel's conversation.")
    @app_commands.describe(rating="1 (poor) to 5 (great)", comment="Anything we should know")
    async def feedback(
        self,
        interaction: discord.Interaction,
        rating: app_commands.Range[int, 1, 5],
        comment: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        if interaction.channel_id is None:
            await tell(interaction, NOT_HERE)
            return
        analytics = self.bot.analytics
        analytics.keep(
            asyncio.create_task(
                analytics.rate(
                    guild_id=interaction.guild_id,
                    conversation_id=interaction.channel_id,
                    rating=rating,
                    rating_min=1,
                    rating_max=5,
                    rated_at=interaction.created_at,
                    feedback=(comment or "").strip() or None,
                )
            )
        )
        await tell(interaction, f"Thanks for the feedback ({rating}/5)!")

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """One place for command errors: users get a sentence, operators the traceback."""
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


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Commands(bot))
