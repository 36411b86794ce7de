"""The daily review digest with two workers on one database (SQLite file and PostgreSQL):
each guild's list is posted once, pinging nobody, and an empty list not at all."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from bot.client import ChatBot
from bot.storage import Storage
from cogs.insights_views import jump_link
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import pings_nobody
from tests.standins.discord_world import (
    BETA_CHANNEL,
    CHAT_CHANNEL,
    GENERAL_CHANNEL,
    GUILD_A,
    GUILD_B,
)
from tests.storage.conftest import Backend

ADMIN = 7


def posts_to(stands: Stands, channel_id: int) -> list[Any]:
    return [r for r in stands.discord.requests
            if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"]


def digest_of(bot: ChatBot) -> Any:
    cog = bot.get_cog("Insights")
    assert cog is not None
    return cog


async def test_two_workers_post_each_guilds_digest_once(
    stands: Stands, backend: Backend, storage: Storage
) -> None:
    await storage.set_digest_channel(GUILD_A, CHAT_CHANNEL, by=ADMIN)
    await storage.set_digest_channel(GUILD_B, BETA_CHANNEL, by=ADMIN)
    stands.greenflash.flag_for_review(str(GENERAL_CHANNEL), organization=str(GUILD_A),
                                      severity=4, trigger="guardrail")
    today = dt.datetime.now(dt.UTC).date()
    worker_0 = bot_settings(stands, shard_count=2, shard_ids=(0,))
    worker_1 = bot_settings(stands, shard_count=2, shard_ids=(1,))
    async with (
        running_bot(stands, worker_0, storage=backend.config) as bot_0,
        running_bot(stands, worker_1, storage=backend.config) as bot_1,
    ):
        first = await asyncio.gather(digest_of(bot_0).post_digests(today),
                                     digest_of(bot_1).post_digests(today))
        later = await asyncio.gather(digest_of(bot_0).post_digests(today),
                                     digest_of(bot_1).post_digests(today))

    assert sorted(first) == [0, 1] and later == [0, 0]
    (post,) = posts_to(stands, CHAT_CHANNEL)
    assert pings_nobody(post.json["allowed_mentions"])
    (embed,) = post.json["embeds"]
    assert f"({jump_link(GUILD_A, GENERAL_CHANNEL)})" in embed["description"]
    assert "severity 4" in embed["description"]
    assert posts_to(stands, BETA_CHANNEL) == [], "nothing flagged in guild B: no post"
