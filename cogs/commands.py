"""Slash commands: ``/ask``, ``/reset``, ``/help`` and ``/feedback``.

``/ask`` is a receiving side like ``on_message``: both go through :meth:`ChatBot.accept`,
which defers the interaction at once (Discord kills an interaction not answered within 3 s,
and models are slower than that). The rules every command obeys (shutdown, allowlists,
well-formed options) and its errors are the tree's (:mod:`bot.runtime.command_tree`).
Refusals are ephemeral so they clutter nobody's channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.conversation.notices import RESET_DONE
from bot.conversation.personas import DEFAULT_PERSONA
from bot.conversation.triggers import prompt_from_interaction, thread_parent
from bot.replies.writer import InteractionTarget
from bot.runtime.command_tree import NOT_HERE, tell

if TYPE_CHECKING:
    from bot.client import ChatBot

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


class Commands(commands.Cog):
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask the AI assistant a question.")
    @app_commands.describe(prompt="Your question or request")
    async def ask(
        self, interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000]
    ) -> None:
        question = prompt_from_interaction(interaction, prompt, self.bot.settings.max_prompt_chars)
        if not question.text:
            await tell(interaction, "Please type a question after `/ask`.")
            return
        await self.bot.accept(question, interaction.user, InteractionTarget(interaction))

    @app_commands.command(name="reset", description="Start a fresh conversation in this channel.")
    async def reset(self, interaction: discord.Interaction) -> None:
        if interaction.channel_id is None:
            await tell(interaction, NOT_HERE)
            return
        self.bot.chat.reset(interaction.channel_id)
        # Not ephemeral: the message is the marker that keeps the reset across restarts.
        await interaction.response.send_message(RESET_DONE)
        self.bot.analytics.command_event(
            "conversation_reset",
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            interaction_id=interaction.id,
            value="reset",
            at=interaction.created_at,
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
        if self.bot.model.offers_tools:
            embed.add_field(
                name="I can look up",
                value="\n".join(f"• {what}" for what in self.bot.toolbox.looks_up),
                inline=False,
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
        self.bot.analytics.rating(
            guild_id=interaction.guild_id,
            conversation_id=interaction.channel_id,
            rating=rating,
            rating_min=1,
            rating_max=5,
            rated_at=interaction.created_at,
            feedback=(comment or "").strip() or None,
        )
        await tell(interaction, f"Thanks for the feedback ({rating}/5)!")


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Commands(bot))
