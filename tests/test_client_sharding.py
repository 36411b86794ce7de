"""Several workers, each running a slice of the shards, answer every guild exactly once."""

from __future__ import annotations

from collections import Counter

from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import barrier
from tests.standins.discord_server import BETA_CHANNEL, DM_ALICE, GENERAL_CHANNEL, GUILD_A, GUILD_B


def shard_of(guild_id: int, count: int) -> int:
    return (guild_id >> 22) % count


async def test_two_workers_split_guilds_and_dms_go_to_shard_zero(stands: Stands) -> None:
    assert shard_of(GUILD_A, 2) != shard_of(GUILD_B, 2), "the seeded world spans both shards"
    worker_0 = bot_settings(stands, shard_count=2, shard_ids=(0,))
    worker_1 = bot_settings(stands, shard_count=2, shard_ids=(1,))
    async with running_bot(stands, worker_0) as bot_0, running_bot(stands, worker_1) as bot_1:
        assert {guild.id for guild in bot_0.guilds} | {guild.id for guild in bot_1.guilds} == {
            GUILD_A, GUILD_B
        }
        assert not {guild.id for guild in bot_0.guilds} & {guild.id for guild in bot_1.guilds}
        asked = [await stands.discord.send_message(channel_id, "who answers?", mention_bot=True)
                 for channel_id in (GENERAL_CHANNEL, BETA_CHANNEL, DM_ALICE)]
        # A later question in each guild, so on each worker's connection: once both are
        # answered, a second answer to any of the three would have been posted.
        workers = (bot_0, bot_1)
        await barrier(stands.discord, workers[shard_of(GUILD_A, 2)], GENERAL_CHANNEL)
        await barrier(stands.discord, workers[shard_of(GUILD_B, 2)], BETA_CHANNEL)
        answered_by = {0: bot_0.chat.memory, 1: bot_1.chat.memory}
        owners = {channel: [shard for shard, memory in answered_by.items() if channel in memory]
                  for channel in (GENERAL_CHANNEL, BETA_CHANNEL, DM_ALICE)}
    answers = Counter(message["message_reference"]["message_id"]
                      for message in stands.discord.sent_messages())
    assert [answers[message["id"]] for message in asked] == [1, 1, 1], "each exactly once"
    assert owners[GENERAL_CHANNEL] == [shard_of(GUILD_A, 2)]
    assert owners[BETA_CHANNEL] == [shard_of(GUILD_B, 2)]
    assert owners[DM_ALICE] == [0]
    assert len(stands.openai.requests) == len(asked) + 2  # and the two barriers
