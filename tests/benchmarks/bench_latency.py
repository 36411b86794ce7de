"""Reply latency with analytics off, on, slow and down, with the outbox and without.

Run: ``python -m tests.benchmarks.bench_latency [--rounds 3] [--messages 400] [--gap 50]``.

One message at a time, round-robin over the 50 chat channels and 200 members, the next one
``--gap`` ms after the last reply (a busy bot's pace, with the analytics of the last
exchange still in flight); the latency of a message is from its MESSAGE_CREATE leaving the
Discord stand-in to the bot's reply arriving there.
Every channel's history is filled first, so each bot rebuilds full 20-turn contexts and
every prompt has the same size. Each scenario runs in a fresh bot process, and the
scenarios take turns for ``--rounds`` rounds, in a rotated order, so drift on the machine
spreads over all of them; each bot process gets a fresh SQLite file, so no scenario inherits
another's outbox. Ratios are to "analytics off" (target: ≤ 1.02; with the outbox, p50 ≤
1.05). The peak of concurrent Greenflash requests seen by the stand-in is shown against
the bot's bound (``GREENFLASH_MAX_IN_FLIGHT``, default 8).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.greenflash_client import GreenflashSettings
from tests.benchmarks.harness import Bench, Child, bench, percentile, table
from tests.standins.greenflash_server import GreenflashStandIn

WARM_UP = 50


@dataclass
class Scenario:
    name: str
    analytics: bool
    prepare: Callable[[GreenflashStandIn], Awaitable[None]]
    outbox: bool = True


async def normal(greenflash: GreenflashStandIn) -> None:
    greenflash.latency = 0.0
    await greenflash.up()


async def slow(greenflash: GreenflashStandIn) -> None:
    greenflash.latency = 2.0
    await greenflash.up()


async def down(greenflash: GreenflashStandIn) -> None:
    greenflash.latency = 0.0
    await greenflash.down()


SCENARIOS = [
    Scenario("analytics off", analytics=False, prepare=normal),
    Scenario("analytics on, outbox", analytics=True, prepare=normal),
    Scenario("analytics on, in memory", analytics=True, prepare=normal, outbox=False),
    Scenario("Greenflash answers in 2 s, outbox", analytics=True, prepare=slow),
    Scenario("Greenflash answers in 2 s, in memory", analytics=True, prepare=slow,
             outbox=False),
    Scenario("Greenflash down, outbox", analytics=True, prepare=down),
    Scenario("Greenflash down, in memory", analytics=True, prepare=down, outbox=False),
]


async def one_round(
    run: Bench, scenario: Scenario, messages: int, gap: float
) -> tuple[list[float], int]:
    """Latencies (ms) of ``messages`` replies, and the peak of concurrent Greenflash calls."""
    greenflash = run.stands.greenflash
    await scenario.prepare(greenflash)
    greenflash.max_in_flight = 0
    database = tempfile.TemporaryDirectory(prefix="bench-latency-")
    env = run.env(analytics=scenario.analytics, DATABASE_PATH=f"{database.name}/bot.sqlite3",
                  GREENFLASH_OUTBOX="on" if scenario.outbox else "off")
    child = await Child.start("bot_process", env, run.stands.discord)
    try:
        latencies = []
        for number in range(WARM_UP + messages):
            await asyncio.sleep(gap)
            sent, answered = await run.ask()
            if number >= WARM_UP:  # untimed: each channel's context is rebuilt from history
                latencies.append((answered - sent) * 1000)
    finally:
        await child.stop()
        database.cleanup()
    return latencies, greenflash.max_in_flight


async def main(rounds: int, messages: int, gap: float) -> None:
    results: dict[str, list[float]] = {scenario.name: [] for scenario in SCENARIOS}
    peak_in_flight = 0
    async with bench() as run:
        await run.fill_history()
        for number in range(1, rounds + 1):
            turn = (number - 1) % len(SCENARIOS)
            for scenario in SCENARIOS[turn:] + SCENARIOS[:turn]:
                latencies, peak = await one_round(run, scenario, messages, gap)
                results[scenario.name] += latencies
                peak_in_flight = max(peak_in_flight, peak)
                print(f"round {number}/{rounds}: {scenario.name}: "
                      f"p50 {percentile(latencies, 50):.2f} ms", flush=True)
    off = results["analytics off"]
    rows = []
    for name, latencies in results.items():
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        rows.append((name, len(latencies), f"{p50:.2f}", f"{p99:.2f}",
                     f"{p50 / percentile(off, 50):.3f}", f"{p99 / percentile(off, 99):.3f}"))
    print()
    print(table(["scenario", "replies", "p50 ms", "p99 ms", "p50 / off", "p99 / off"], rows))
    print(f"\nGreenflash requests in flight at once, at most: {peak_in_flight} "
          f"(bound GREENFLASH_MAX_IN_FLIGHT = {GreenflashSettings().max_in_flight})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=400, help="timed replies per round")
    parser.add_argument("--gap", type=float, default=50, help="ms from a reply to the next")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.messages, arguments.gap / 1000))
