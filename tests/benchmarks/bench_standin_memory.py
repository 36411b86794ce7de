"""What each stand-in keeps per answered message, so long benchmarks fit in memory.

Run: ``python -m tests.benchmarks.bench_standin_memory [--warmup 300] [--messages 2000]
[--kept N]``.

The real bot (child process, analytics on) answers ``--warmup`` and then ``--messages``
more messages over 50 conversations (one a second each), through the benchmark harness.
This process traces its own allocations (``tracemalloc``) and counts, after each phase,
the bytes still held by allocations made from each stand-in's modules (Discord:
``tests/standins/discord_*.py``, OpenAI: ``openai_server.py``, Greenflash:
``greenflash_server.py``); the difference divided by ``--messages`` is that stand-in's
memory per answered message (for Discord: the user message, the bot's reply, their gateway
events and REST records; for OpenAI: the completion request; for Greenflash: both sides'
logged messages and their records).

``--kept N`` lowers every stand-in's bound on whole records (10 000 by default) to ``N``,
so that a short run measures the cost per message past the bound, the steady state of a
long soak; a ``--warmup`` past the bound (about 2 Discord requests, 2 Greenflash records
and 1 OpenAI request per message) keeps the compaction inside the measured phase.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc

from tests.benchmarks.harness import Child, bench

STANDINS = {
    "Discord": "*standins/discord_*",
    "OpenAI": "*standins/openai_server*",
    "Greenflash": "*standins/greenflash_server*",
}


def held_by_standins() -> dict[str, int]:
    """Bytes held per stand-in; an allocation is counted for the innermost stand-in frame."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    held = {}
    for name, pattern in STANDINS.items():
        traces = snapshot.filter_traces([tracemalloc.Filter(True, pattern, all_frames=True)])
        held[name] = sum(stat.size for stat in traces.statistics("filename"))
    return held


async def main(warmup: int, messages: int, kept: int | None) -> None:
    async with bench() as run:
        if kept is not None:
            run.stands.discord.requests_kept = run.stands.openai.requests_kept = kept
            run.stands.greenflash.records_kept = kept
        child = await Child.start("bot_process", run.env(), run.stands.discord)
        try:
            await run.converse(warmup, pace=1.0)
            before = held_by_standins()
            await run.converse(messages, pace=1.0)
            after = held_by_standins()
        finally:
            await child.stop()
    for name in STANDINS:
        per_message = (after[name] - before[name]) / messages
        print(f"{name} stand-in: {before[name] / 2**20:.1f} MB held after {warmup} messages, "
              f"{after[name] / 2**20:.1f} MB after {warmup + messages}: "
              f"{per_message / 1024:.1f} kB per message, "
              f"{per_message * 10_000 / 2**20:.0f} MB every 10 000 more")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--kept", type=int, default=None)
    arguments = parser.parse_args()
    tracemalloc.start(25)
    asyncio.run(main(arguments.warmup, arguments.messages, arguments.kept))
