"""``/knowledge``: a server's own documents and FAQ channels, which the assistant answers from.

Admins only (Manage Server or ``ADMIN_ROLE``, checked here after the tree-wide rule, as the
other admin commands do: ``default_permissions`` only hides the commands in Discord's
client). Every answer is ephemeral; slow work (a download, a PDF, thousands of rows) is
deferred first so Discord's three-second window never runs out. A file is downloaded from
Discord's CDN only, through the bot's one capped downloader, and refused before a byte is
read when Discord says it is over ``KNOWLEDGE_MAX_FILE_BYTES``; it is read, chunked and
indexed in one transaction, so a refusal leaves nothing half-indexed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.attachments.kinds import AttachmentRef, SkipReason
from bot.conversation.admins import is_admin
from bot.knowledge.sources import SourceRefused, read_file, size_text
from bot.storage import StorageUnavailable
from bot.storage.knowledge import SourceInfo
from cogs.knowledge_sync import KnowledgeSync

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

NOT_ADMIN = "Only members with Manage Server{role} can change this server's knowledge base."
NOT_SAVED = "My database isn't answering, so nothing changed. Please try again in a minute."
NO_SOURCES = (
    "This server has no knowledge sources yet: add a file with `/knowledge add` or an FAQ "
    "channel with `/knowledge channel add`."
)
LIST_MAX_CHARS = 1_900  # under Discord's 2 000 characters per message


def source_line(source: SourceInfo) -> str:
    what = f"<#{source.channel_id}>" if source.channel_id else "file"
    when = int(source.indexed_at.timestamp())
    return (f"• *{source.title}*: {what}, {size_text(source.bytes)}, "
            f"{source.chunks} passages, indexed <t:{when}:R>")


def sources_text(sources: list[SourceInfo]) -> str:
    """The list, cut to one message: the sources that fit, then how many did not."""
    lines: list[str] = [f"**Knowledge sources** ({len(sources)}):"]
    for index, source in enumerate(sources):
        line = source_line(source)
        rest = len(sources) - index
        if sum(len(kept) + 1 for kept in lines) + len(line) + 30 > LIST_MAX_CHARS:
            lines.append(f"… and {rest} more")
            break
        lines.append(line)
    return "\n".join(lines)


def download_refusal(filename: str, reason: SkipReason, limit: int) -> str:
    if reason is SkipReason.TOO_LARGE:
        return f"`{filename}` is over the limit of {size_text(limit)}; nothing was indexed."
    return f"I couldn't read `{filename}`: it {reason.value}. Nothing was indexed."


class Knowledge(commands.Cog):
    knowledge = app_commands.Group(
        name="knowledge", description="This server's knowledge base.", guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    channel = app_commands.Group(
        name="channel", description="Channels whose messages are knowledge.", parent=knowledge
    )

    def __init__(self, bot: ChatBot, sync: KnowledgeSync) -> None:
        self.bot = bot
        self.desk = bot.knowledge
        self.store = bot.knowledge.store
        self.sync = sync

    async def _admitted(self, interaction: discord.Interaction) -> bool:
        role = self.bot.storage.config.admin_role
        if is_admin(interaction.user, role):
            return True
        refusal = NOT_ADMIN.format(role=f" or the {role} role" if role else "")
        await interaction.response.send_message(refusal, ephemeral=True)
        return False

    @knowledge.command(name="add", description="Add a file (Markdown, text, HTML or PDF).")
    @app_commands.describe(file="The document", title="Its name in answers (default: the file's)")
    async def add(
        self, interaction: discord.Interaction, file: discord.Attachment,
        title: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        if not await self._admitted(interaction):
            return
        limit = self.desk.settings.max_file_bytes
        if file.size > limit:
            await interaction.response.send_message(
                download_refusal(file.filename, SkipReason.TOO_LARGE, limit), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.bot.attachments.fetch_file(AttachmentRef.of(file), limit)
        if isinstance(data, SkipReason):
            log.info("knowledge file %r not downloaded: %s", file.filename, data.name)
            await interaction.followup.send(
                download_refusal(file.filename, data, limit), ephemeral=True)
            return
        name = title or file.filename
        try:
            text = await read_file(file.filename, data, max_bytes=limit)
            info = await self.store.replace_source(
                interaction.guild_id or 0, name, "file", text.chunks(), size_bytes=len(data))
        except SourceRefused as refusal:
            log.info("knowledge file %r refused in guild %s: %s", file.filename,
                     interaction.guild_id, refusal.reason)
            await interaction.followup.send(refusal.reason, ephemeral=True)
            return
        except StorageUnavailable:
            await interaction.followup.send(NOT_SAVED, ephemeral=True)
            return
        await interaction.followup.send(
            f"Indexed *{info.title}* ({text.kind.value}, {size_text(info.bytes)}): "
            f"{info.chunks} passages. A source of the same title is replaced.", ephemeral=True)

    @knowledge.command(name="list", description="The knowledge sources of this server.")
    async def list_sources(self, interaction: discord.Interaction) -> None:
        if not await self._admitted(interaction):
            return
        try:
            sources = await self.store.list_sources(interaction.guild_id or 0)
        except StorageUnavailable:
            await interaction.response.send_message(NOT_SAVED, ephemeral=True)
            return
        text = sources_text(sources) if sources else NO_SOURCES
        await interaction.response.send_message(text, ephemeral=True)

    @knowledge.command(name="remove", description="Remove a knowledge source.")
    @app_commands.describe(title="The source's title")
    async def remove(self, interaction: discord.Interaction, title: str) -> None:
        if not await self._admitted(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            removed = await self.store.remove_source(interaction.guild_id or 0, title)
        except StorageUnavailable:
            await interaction.followup.send(NOT_SAVED, ephemeral=True)
            return
        text = f"Removed *{title}*." if removed else f"There is no source titled *{title}*."
        if removed:
            await self.sync.refresh()
        await interaction.followup.send(text, ephemeral=True)

    @remove.autocomplete("title")
    async def remove_titles(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_admin(interaction.user, self.bot.storage.config.admin_role):
            return []
        try:
            titles = await self.store.source_titles(interaction.guild_id or 0, current)
        except StorageUnavailable:
            return []
        return [app_commands.Choice(name=title[:100], value=title) for title in titles]

    @knowledge.command(name="here", description="Use the knowledge base in this channel.")
    async def here(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        await self._switch(interaction, "here", interaction.channel_id or 0, state,
                           f"Knowledge is {state} in this channel.")

    @knowledge.command(name="dms", description="Answer this server's members from it in DMs.")
    async def dms(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        text = (
            "Members of this server now get its knowledge in DMs with me."
            if state == "on" else "This server's knowledge is no longer used in DMs."
        )
        await self._switch(interaction, "dms", 0, state, text)

    async def _switch(self, interaction: discord.Interaction, scope: Literal["here", "dms"],
                      place: int, state: str, done: str) -> None:
        if not await self._admitted(interaction):
            return
        try:
            await self.store.switch(interaction.guild_id or 0, scope, place, state == "on")
        except StorageUnavailable:
            await interaction.response.send_message(NOT_SAVED, ephemeral=True)
            return
        await interaction.response.send_message(done, ephemeral=True)

    @channel.command(name="add", description="Make a channel's messages (or a forum's posts) "
                     "knowledge.")
    @app_commands.describe(channel="A text or forum channel", title="Its name in answers")
    async def channel_add(
        self, interaction: discord.Interaction,
        channel: discord.TextChannel | discord.ForumChannel,
        title: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        if not await self._admitted(interaction):
            return
        mine = channel.permissions_for(channel.guild.me)
        if not (mine.view_channel and mine.read_message_history):
            await interaction.response.send_message(
                f"I can't read {channel.mention}: I need View Channel and Read Message "
                "History there. Nothing was added.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            info = await self.store.replace_source(
                channel.guild.id, title or f"#{channel.name}", "channel", [],
                channel_id=channel.id)
        except SourceRefused as refusal:
            await interaction.followup.send(refusal.reason, ephemeral=True)
            return
        except StorageUnavailable:
            await interaction.followup.send(NOT_SAVED, ephemeral=True)
            return
        await self.sync.refresh()
        self.sync.catch_up_soon(channel.id)
        await interaction.followup.send(
            f"{channel.mention} is now knowledge, as *{info.title}*: I'm reading its recent "
            "messages, and will follow new, edited and deleted ones.", ephemeral=True)

    @channel.command(name="remove", description="Stop using a channel as knowledge.")
    async def channel_remove(
        self, interaction: discord.Interaction,
        channel: discord.TextChannel | discord.ForumChannel,
    ) -> None:
        if not await self._admitted(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id or 0
        try:
            sources = await self.store.list_sources(guild_id)
            source = next((s for s in sources if s.channel_id == channel.id), None)
            removed = source is not None and await self.store.remove_source(
                guild_id, source.title)
        except StorageUnavailable:
            await interaction.followup.send(NOT_SAVED, ephemeral=True)
            return
        if removed:
            await self.sync.refresh()
        text = (f"{channel.mention} is no longer knowledge." if removed
                else f"{channel.mention} is not a knowledge source.")
        await interaction.followup.send(text, ephemeral=True)


async def setup(bot: ChatBot) -> None:
    sync = KnowledgeSync(bot)
    await bot.add_cog(sync)
    await bot.add_cog(Knowledge(bot, sync))
