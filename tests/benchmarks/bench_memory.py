"""Memory and tasks after 1 000 and after 20 000 messages.

Run: ``python -m tests.benchmarks.bench_memory [--first 1000] [--total 20000]``.

One bot process (analytics on) answers 50 conversations at once, one per chat channel,
from 200 members, each conversation at most one message a second (Discord's 5 per 5 s per
channel, so 50 replies a second in all: about 7 minutes for 20 000). After ``--first``
and again after ``--total`` answered messages, once every Greenflash call has finished,
the process reports its resident memory (after a full collection) and its asyncio tasks.
Target: memory flat within 30 MB, tasks back to the count they had once the bot was ready.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tests.benchmarks.harness import Child, bench, table


async def settled(
    child: Child, tasks: int | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """The child's figures once it has no Greenflash call left to make and, given
    ``tasks``, no more asyncio tasks than that (discord.py may still be sleeping off a
    channel's rate-limit window for a few seconds after its last send)."""
    for _ in range(int(timeout / 0.2)):
        stats = await child.stats()
        if not stats["greenflash_pending"] and (tasks is None or stats["tasks"] <= tasks):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # connection housekeeping after the last call
    return await child.stats()


async def main(first: int, total: int) -> None:
    async with bench() as run:
        child = await Child.start("bot_process", run.env(), run.stands.discord)
        try:
            ready = await settled(child)
            await run.converse(first, pace=1.0)
            early = await settled(child, ready["tasks"])
            await run.converse(total - first, pace=1.0)
            late = await settled(child, ready["tasks"])
        finally:
            await child.stop()
    rows = [(label, f"{s['rss_mb']:.1f}", s["tasks"], s["greenflash_pending"], s["sent"],
             s["failed"], s["dropped"])
            for label, s in (("ready", ready), (f"after {first}", early), (f"after {total}", late))]
    print(table(["", "RSS MB", "tasks", "GF pending", "GF sent", "GF failed", "GF dropped"],
                rows))
    print(f"\nRSS growth from {first} to {total} messages: "
          f"{late['rss_mb'] - early['rss_mb']:+.1f} MB (target: within 30 MB)")
    print(f"tasks: {ready['tasks']} when ready, {early['tasks']} after {first}, "
          f"{late['tasks']} after {total}")
    print(f"Greenflash requests in flight at once, at most: "
          f"{run.stands.greenflash.max_in_flight}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=1_000)
    parser.add_argument("--total", type=int, default=20_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.first, arguments.total))
