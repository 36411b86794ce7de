"""``/insights``: what Greenflash learned, shown to the admins who can act on it, where
they already are; the daily review digest; and ``/persona stats`` (called from
``cogs/assistant.py``, where the ``/persona`` group lives).

Admins only, like ``/persona``: Discord shows the group to Manage Server by default
(``default_permissions``, a client-side default), and every command checks again with
:func:`bot.conversation.admins.is_admin` after the tree-wide rule
(:mod:`bot.runtime.command_tree`) has passed it. Answers are ephemeral. Every read goes
through the bot's one :class:`~bot.analytics.insights.InsightsReader` (bounded, cached per
guild, one sentence per failure), after ``defer``: a read may take seconds, and Discord
drops an interaction not answered within 3. Nothing here is on the reply path.

The digest: once a day (``GREENFLASH_DIGEST_HOUR``, UTC, a ``discord.ext.tasks`` loop) each
guild's review list is posted to the channel its admins chose, pinging nobody and skipping
an empty list. Every worker runs the loop; a lease per guild and day in the database
(:class:`~bot.storage.Digests`) lets exactly one of them post.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.analytics.insights import SENTENCES, Outcome
from bot.conversation.admins import is_admin
from bot.conversation.personas import prompt_id
from bot.runtime.command_tree import tell
from bot.runtime.uncancelled import uncancelled
from bot.storage import Digests, StorageUnavailable, digest_lease
from cogs.insights_views import inbox_embed, overview_embed, personas_embed

if TYPE_CHECKING:
    from bot.client import ChatBot

log = logging.getLogger(__name__)

NOT_ADMIN = "Only members with Manage Server{role} can see what Greenflash learned here."
DATABASE_DOWN = "My database isn't answering right now. Please try again in a minute."
NO_PERSONAS = "No persona has been set on this server yet, so there is nothing to compare."
DIGEST_ON = ("Every day at {hour:02d}:00 UTC I'll post the conversations Greenflash flags "
             "for review in <#{channel}>, pinging nobody.")
DIGEST_OFF = "The daily review digest is off."
INBOX_TITLE = "Flagged for review"
DIGEST_TITLE = "Daily review digest: flagged for review"
# Side by side: three inline fields a row, three rows.
MAX_PERSONAS = 9


async def admitted(interaction: discord.Interaction, admin_role: str) -> bool:
    """Manage Server or ``ADMIN_ROLE``; anyone else is told so, ephemerally."""
    if is_admin(interaction.user, admin_role):
        return True
    role = f" or the {admin_role} role" if admin_role else ""
    await interaction.response.send_message(NOT_ADMIN.format(role=role), ephemeral=True)
    return False


def _guild_name(interaction: discord.Interaction) -> str:
    return interaction.guild.name if interaction.guild is not None else "this server"


def worker_name() -> str:
    """Who holds a lease: this process, and this cog within it."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def persona_stats(interaction: discord.Interaction, bot: ChatBot) -> None:
    """``/persona stats``: Greenflash's prompt analytics for each persona this server's
    admins have set (the change log's persona texts, newest first), side by side."""
    if not await admitted(interaction, bot.storage.config.admin_role):
        return
    if bot.analytics.client is None:
        await tell(interaction, SENTENCES[Outcome.OFF])
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    guild_id = interaction.guild_id or 0
    try:
        texts = await Digests.sharing(bot.storage).personas_used(guild_id, MAX_PERSONAS)
    except StorageUnavailable:
        log.warning("persona stats: the database did not answer (guild %s)", guild_id)
        await tell(interaction, DATABASE_DOWN)
        return
    if not texts:
        await tell(interaction, NO_PERSONAS)
        return
    ids = [prompt_id(guild_id, text, bot.settings.system_prompt) for text in texts]
    reads = await bot.insights.prompts(ids)
    known = [reads[each] for each in ids]
    failed = [read for read in known
              if read.value is None and read.outcome is not Outcome.NOTHING_YET]
    if len(failed) == len(known):
        await tell(interaction, failed[0].sentence or SENTENCES[Outcome.FAILED])
        return
    embed = personas_embed(_guild_name(interaction), list(zip(texts, known, strict=True)))
    await interaction.followup.send(embed=embed, ephemeral=True)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class InsightsGroup(app_commands.Group, name="insights",
                    description="What Greenflash learned about this server."):
    pass


class Insights(commands.Cog):
    insights = InsightsGroup()
    digest = app_commands.Group(name="digest", parent=insights,
                                description="A daily list of flagged conversations.")

    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot
        self.settings = bot.analytics.settings
        self.digests = Digests.sharing(bot.storage)
        self.holder = worker_name()

    async def cog_load(self) -> None:
        if self.bot.analytics.client is None:
            return
        self.daily_digest.change_interval(time=self.settings.digest_time)
        self.daily_digest.start()

    async def cog_unload(self) -> None:
        """At shutdown (discord.py unloads every extension): a digest being posted
        finishes its REST call on its own (:func:`uncancelled`)."""
        self.daily_digest.cancel()

    async def _admitted(self, interaction: discord.Interaction) -> bool:
        return await admitted(interaction, self.bot.storage.config.admin_role)

    @insights.command(name="overview", description="This server's figures from Greenflash.")
    async def overview(self, interaction: discord.Interaction) -> None:
        if not await self._admitted(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        read = await self.bot.insights.organization(
            str(interaction.guild_id), insights=self.settings.insights_mode == "insights")
        if read.value is None:
            await tell(interaction, read.sentence or SENTENCES[Outcome.FAILED])
            return
        embed = overview_embed(_guild_name(interaction), read.value)
        await interaction.followup.send(embed=embed, ephemeral=True)

    @insights.command(name="inbox", description="Conversations Greenflash flagged for review.")
    async def inbox(self, interaction: discord.Interaction) -> None:
        if not await self._admitted(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id or 0
        read = await self.bot.insights.inbox(str(guild_id))
        if read.value is None:
            await tell(interaction, read.sentence or SENTENCES[Outcome.FAILED])
            return
        embed = inbox_embed(guild_id, read.value, title=INBOX_TITLE)
        await interaction.followup.send(embed=embed, ephemeral=True)

    @digest.command(name="set", description="Post the review list to a channel every day.")
    @app_commands.describe(channel="Where the daily list goes (a moderators' channel)")
    async def digest_set(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        await self._save_digest(interaction, channel.id)

    @digest.command(name="off", description="Stop the daily review list.")
    async def digest_off(self, interaction: discord.Interaction) -> None:
        await self._save_digest(interaction, None)

    async def _save_digest(self, interaction: discord.Interaction, channel_id: int | None) -> None:
        if not await self._admitted(interaction):
            return
        if channel_id is not None and self.bot.analytics.client is None:
            await tell(interaction, SENTENCES[Outcome.OFF])
            return
        try:
            await self.bot.storage.set_digest_channel(
                interaction.guild_id or 0, channel_id, by=interaction.user.id)
        except StorageUnavailable:
            await tell(interaction, DATABASE_DOWN)
            return
        text = DIGEST_OFF if channel_id is None else DIGEST_ON.format(
            hour=self.settings.digest_hour, channel=channel_id)
        await tell(interaction, text)

    # --- the daily digest ----------------------------------------------------------------

    @tasks.loop(time=dt.time(tzinfo=dt.UTC))  # the hour is set in cog_load
    async def daily_digest(self) -> None:
        """A failure is logged and the loop goes on (an exception would end it)."""
        try:
            await self.post_digests(dt.datetime.now(dt.UTC).date())
        except Exception:
            log.exception("the daily review digest failed")

    @daily_digest.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()

    async def post_digests(self, day: dt.date) -> int:
        """Post each guild's list for ``day`` where this worker takes the lease first;
        returns how many this worker posted."""
        try:
            channels = await self.digests.channels()
        except StorageUnavailable:
            log.warning("review digest: the database did not answer; none posted today")
            return 0
        posted = 0
        for guild_id, channel_id in channels.items():
            if self.bot.settings.guild_allowed(guild_id):
                posted += await self._post_digest(guild_id, channel_id, day.isoformat())
        return posted

    async def _post_digest(self, guild_id: int, channel_id: int, period: str) -> bool:
        lease = digest_lease(guild_id)
        try:
            if not await self.digests.take(lease, self.holder, period):
                return False
        except StorageUnavailable:
            log.warning("review digest: no lease for guild %s (database down)", guild_id)
            return False
        read = await self.bot.insights.inbox(str(guild_id))
        if read.value is None:
            log.info("review digest for guild %s not posted: %s", guild_id, read.outcome.value)
            return False
        if read.value:
            channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
            embed = inbox_embed(guild_id, read.value, title=DIGEST_TITLE)
            try:
                await uncancelled(channel.send(
                    embed=embed, allowed_mentions=discord.AllowedMentions.none()))
            except discord.HTTPException as error:
                log.warning("review digest: could not post to channel %s of guild %s: %s",
                            channel_id, guild_id, error)
                return False
        try:
            await self.digests.finish(lease, self.holder, period)
        except StorageUnavailable:
            log.warning("review digest: posted for guild %s, not recorded as done", guild_id)
        return bool(read.value)


async def setup(bot: ChatBot) -> None:
    await bot.add_cog(Insights(bot))
