"""What the Discord stand-in keeps per message, so long benchmarks fit in memory.

Run: ``python -m tests.benchmarks.bench_standin_memory [--warmup 500] [--messages 3000]``.

The real bot (child process) answers ``--warmup`` and then ``--messages`` more messages
over 50 conversations (one a second each), through the benchmark harness. This process
traces its own allocations (``tracemalloc``) and counts, after each phase, the bytes
still held by allocations made from the Discord stand-in's modules
(``tests/standins/discord_*.py``); the difference divided by ``--messages`` is the
stand-in's memory per answered message (a user message, the bot's reply, their gateway
events and REST records).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc

from tests.benchmarks.harness import Child, bench

_STANDIN = tracemalloc.Filter(True, "*standins/discord_*", all_frames=True)


def held_by_standin() -> int:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([_STANDIN])
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def main(warmup: int, messages: int) -> None:
    async with bench() as run:
        child = await Child.start("bot_process", run.env(analytics=False), run.stands.discord)
        try:
            await run.converse(warmup, pace=1.0)
            before = held_by_standin()
            await run.converse(messages, pace=1.0)
            after = held_by_standin()
        finally:
            await child.stop()
    per_message = (after - before) / messages
    print(f"Discord stand-in: {before / 2**20:.1f} MB held after {warmup} messages, "
          f"{after / 2**20:.1f} MB after {warmup + messages}: "
          f"{per_message / 1024:.1f} kB per message")
    print(f"every 10 000 messages more: {per_message * 10_000 / 2**20:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--messages", type=int, default=3_000)
    arguments = parser.parse_args()
    tracemalloc.start(25)
    asyncio.run(main(arguments.warmup, arguments.messages))
