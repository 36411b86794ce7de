"""The throughput baseline: a bare discord.py bot that replies to every human message with
its text. It does what any reply costs (gateway event in, one REST call out) and nothing
the product adds (model, context, typing, analytics), on the same stand-in."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import discord

from tests.benchmarks.process_stats import report_on_sigusr1


class EchoBot(discord.Client):
    async def setup_hook(self) -> None:
        report_on_sigusr1()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(self.close()))

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        await message.reply(message.content or "(nothing)", mention_author=False)


def main() -> int:
    discord.utils.setup_logging(level=logging.INFO, root=True)
    intents = discord.Intents(guilds=True, guild_messages=True, message_content=True)
    client = EchoBot(intents=intents)
    asyncio.run(client.start(os.environ["DISCORD_TOKEN"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
