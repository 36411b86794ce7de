"""Replies per second across 50 channels, against a bare discord.py echo bot.

Run: ``python -m tests.benchmarks.bench_throughput [--rounds 3] [--per-channel 20]``.

50 conversations at once, one per chat channel: each sends a message as soon as its last
one was answered. The echo baseline (:mod:`tests.benchmarks.echo_bot`) and the bot, with
analytics on and off (everything else at its defaults), take turns on the same stand-ins
for ``--rounds`` rounds; the figure is replies per second over all rounds (target for the
bot: ≥ 0.8 of the echo bot's). Two conditions, each with its own stand-ins:

* Discord's rate limits (50 requests/s per bot, 5 messages per 5 s per channel), as a bot
  meets them in production;
* no limits, where every process runs as fast as its CPU allows: the bot's model call,
  context and analytics against a bot that does nothing but reply.

The CPU each process spent per reply, the 429s Discord's limits produced and the peak of
concurrent Greenflash requests (against the bot's bound) are shown beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from bot.greenflash_client import GreenflashSettings
from tests.benchmarks.harness import Bench, Child, bench, table


@dataclass
class Contender:
    name: str
    module: str
    analytics: bool = True
    replies: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.replies / self.seconds


async def one_round(run: Bench, contender: Contender, per_channel: int) -> None:
    child = await Child.start(contender.module, run.env(analytics=contender.analytics),
                              run.stands.discord)
    try:
        channels = len(run.channel_ids)
        await run.converse(channels)  # warm-up: one message per channel
        before = await child.stats()
        started = time.perf_counter()
        await run.converse(per_channel * channels)
        contender.seconds += time.perf_counter() - started
        after = await child.stats()
        contender.replies += per_channel * channels
        contender.cpu_seconds += after["cpu_s"] - before["cpu_s"]
    finally:
        await child.stop()


async def condition(rounds: int, per_channel: int, *, rate_limits: bool) -> None:
    contenders = [
        Contender("bare discord.py echo bot", "echo_bot"),
        Contender("the bot, analytics on", "bot_process"),
        Contender("the bot, analytics off", "bot_process", analytics=False),
    ]
    title = "Discord's rate limits" if rate_limits else "no rate limits (CPU-bound)"
    async with bench(rate_limits=rate_limits) as run:
        await run.fill_history()
        run.stands.greenflash.max_in_flight = 0
        for number in range(rounds):
            for contender in contenders[number % 3:] + contenders[:number % 3]:
                await one_round(run, contender, per_channel)
            print(f"{title}: round {number + 1}/{rounds} done", flush=True)
        limits = run.stands.discord.rate_limits
        rejected = len(limits.rejected) if limits else 0
    echo = contenders[0]
    rows = [(c.name, c.replies, f"{c.per_second:.1f}", f"{c.per_second / echo.per_second:.2f}",
             f"{1000 * c.cpu_seconds / c.replies:.2f}") for c in contenders]
    print(f"\n{title}\n")
    print(table(["", "replies", "replies/s", "vs echo", "CPU ms/reply"], rows))
    print(f"429s from Discord's limits: {rejected}; Greenflash requests in flight at once, "
          f"at most: {run.stands.greenflash.max_in_flight} (bound GREENFLASH_MAX_IN_FLIGHT = "
          f"{GreenflashSettings().max_in_flight})\n", flush=True)


async def main(rounds: int, per_channel: int) -> None:
    await condition(rounds, per_channel, rate_limits=True)
    await condition(rounds, per_channel, rate_limits=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-channel", type=int, default=20, help="messages per channel")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.per_channel))
