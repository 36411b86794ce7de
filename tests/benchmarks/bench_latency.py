"""Reply latency with analytics off, on, slow and down, with the outbox and without.

Run: ``python -m tests.benchmarks.bench_latency [--rounds 12] [--messages 100]
[--channels 10] [--gap 50]``.

One message at a time, round-robin over ``--channels`` chat channels and 200 members, the
next one ``--gap`` ms after the last reply (a busy bot's pace, with the analytics of the
last exchange still in flight); the latency of a message is from its MESSAGE_CREATE
leaving the Discord stand-in to the bot's reply arriving there.
Every channel's history is filled first, so each bot rebuilds full 20-turn contexts (two
untimed messages per channel) and every prompt has the same size. Each scenario runs in a
fresh bot process on a fresh SQLite file, so no scenario inherits another's outbox.

Why many short rounds: on a shared 2-core machine the speed of the same bot wanders by
±15 % from one 6-second stretch to the next, so a scenario timed in one long block
measures the machine as much as the bot. The scenarios take turns, ``--rounds`` times, in
a rotated order, and each figure is shown two ways: the pooled p50 over all rounds against
"analytics off" pooled, and the median over rounds of (the scenario's p50 / the p50 of
"analytics off" in the same round), which cancels drift slower than a round. The bot's own
CPU per reply (all its threads, read from the child before and after the timed messages)
does not depend on what else the machine runs, and shows what the analytics cost. Target:
p50 / off ≤ 1.02 in memory, ≤ 1.05 with the outbox. The peak of concurrent Greenflash
requests seen by the stand-in is shown against the bot's bound
(``GREENFLASH_MAX_IN_FLIGHT``, default 8).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.greenflash_client import GreenflashSettings
from tests.benchmarks.harness import Bench, Child, bench, percentile, table
from tests.standins.greenflash_server import GreenflashStandIn

WARM_UP_PER_CHANNEL = 2


@dataclass
class Scenario:
    name: str
    analytics: bool
    prepare: Callable[[GreenflashStandIn], Awaitable[None]]
    outbox: bool = True


@dataclass
class Figures:
    """One scenario's rounds: every latency (ms), each round's p50, CPU ms per reply."""

    latencies: list[float] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


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
    run: Bench, scenario: Scenario, messages: int, channels: int, gap: float
) -> tuple[list[float], float, int]:
    """Latencies (ms) of ``messages`` replies, the bot's CPU ms per reply, and the peak of
    concurrent Greenflash calls."""
    greenflash = run.stands.greenflash
    await scenario.prepare(greenflash)
    greenflash.max_in_flight = 0
    database = tempfile.TemporaryDirectory(prefix="bench-latency-")
    env = run.env(analytics=scenario.analytics, DATABASE_PATH=f"{database.name}/bot.sqlite3",
                  GREENFLASH_OUTBOX="on" if scenario.outbox else "off")
    child = await Child.start("bot_process", env, run.stands.discord)
    try:
        for number in range(WARM_UP_PER_CHANNEL * channels):  # contexts rebuilt from history
            await asyncio.sleep(gap)
            await run.ask(number % channels)
        before = await child.stats()
        latencies = []
        for number in range(messages):
            await asyncio.sleep(gap)
            sent, answered = await run.ask(number % channels)
            latencies.append((answered - sent) * 1000)
        after = await child.stats()
    finally:
        await child.stop()
        database.cleanup()
    cpu_ms = (after["cpu_s"] - before["cpu_s"]) * 1000 / messages
    return latencies, cpu_ms, greenflash.max_in_flight


async def main(rounds: int, messages: int, channels: int, gap: float) -> None:
    results = {scenario.name: Figures() for scenario in SCENARIOS}
    peak_in_flight = 0
    async with bench() as run:
        await run.fill_history()
        for number in range(1, rounds + 1):
            turn = (number - 1) % len(SCENARIOS)
            for scenario in SCENARIOS[turn:] + SCENARIOS[:turn]:
                latencies, cpu_ms, peak = await one_round(run, scenario, messages, channels,
                                                          gap)
                figures = results[scenario.name]
                figures.latencies += latencies
                figures.round_p50.append(percentile(latencies, 50))
                figures.cpu_ms.append(cpu_ms)
                peak_in_flight = max(peak_in_flight, peak)
                print(f"round {number}/{rounds}: {scenario.name}: "
                      f"p50 {figures.round_p50[-1]:.2f} ms, CPU {cpu_ms:.2f} ms/reply",
                      flush=True)
    off = results["analytics off"]
    rows = []
    for name, figures in results.items():
        p50, p99 = percentile(figures.latencies, 50), percentile(figures.latencies, 99)
        paired = statistics.median(
            mine / theirs for mine, theirs in zip(figures.round_p50, off.round_p50, strict=True)
        )
        rows.append((name, len(figures.latencies), f"{p50:.2f}", f"{p99:.2f}",
                     f"{p50 / percentile(off.latencies, 50):.3f}", f"{paired:.3f}",
                     f"{p99 / percentile(off.latencies, 99):.3f}",
                     f"{statistics.median(figures.cpu_ms):.2f}"))
    print()
    print(table(["scenario", "replies", "p50 ms", "p99 ms", "p50 / off", "paired p50 / off",
                 "p99 / off", "CPU ms/reply"], rows))
    print(f"\nGreenflash requests in flight at once, at most: {peak_in_flight} "
          f"(bound GREENFLASH_MAX_IN_FLIGHT = {GreenflashSettings().max_in_flight})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--messages", type=int, default=100, help="timed replies per round")
    parser.add_argument("--channels", type=int, default=10, help="chat channels used")
    parser.add_argument("--gap", type=float, default=50, help="ms from a reply to the next")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.messages, arguments.channels,
                     arguments.gap / 1000))
