"""Crash loop: what reaches Greenflash when the bot is killed again and again.

Run: ``python -m tests.benchmarks.bench_crash_loop [--cycles 20] [--exchanges 50] [--seed 21]``.

Each cycle starts the bot (``bot_process``, the outbox on, one SQLite file for all cycles,
the production Greenflash settings), sends ``--exchanges`` messages one after another over
10 chat channels, and kills the bot with SIGKILL at a random moment, uniform over the first
3 s (50 exchanges take about a second, so a third of the kills land mid-conversation).
Greenflash is down in every other cycle. A last bot, with Greenflash up, sends what the
outbox holds and is stopped with SIGTERM once it is empty.

Expected: the question and the answer of every reply the bot posted at least a second
before the kill that ended its process (the promise: a call is on disk within about a
second of being made; the writer writes it 0.3 to 0.5 s after it is made, plus the write).
Calls made closer to a kill are counted apart, by how close.
Duplicates: message items Greenflash stored twice (the stand-in deduplicates by
``externalMessageId`` as Greenflash does, so a duplicate would need a new id), and, for
information, requests that re-sent an id Greenflash already had.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections import Counter

from bot.storage import Storage, StorageConfig
from tests.benchmarks.harness import Bench, Child, bench, table
from tests.storage.outbox_worker import outbox_empty

PROMISE = 1.0  # seconds: "a call is on disk within about a second of being made"
KILL_WITHIN = 3.0  # seconds after the first message (50 exchanges take about 1 s here)


def replies(run: Bench) -> list[tuple[str, str, float]]:
    """(question id, reply id, when it reached Discord) for every reply the bot posted."""
    return [
        (str(request.json["message_reference"]["message_id"]), str(request.response["id"]),
         request.received_at)
        for request in run.stands.discord.requests
        if request.method == "POST" and request.status == 200
        and (request.json or {}).get("message_reference")
    ]


async def exchange(run: Bench, count: int) -> None:
    for _ in range(count):
        await run.ask()


async def cycle(run: Bench, env: dict[str, str], exchanges: int, rng: random.Random) -> float:
    """One bot process, killed with SIGKILL mid-conversation; when (perf_counter)."""
    child = await Child.start("bot_process", env, run.stands.discord)
    talking = asyncio.create_task(exchange(run, exchanges))
    await asyncio.sleep(rng.uniform(0.0, KILL_WITHIN))
    child.process.kill()
    killed_at = time.perf_counter()
    talking.cancel()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await talking
    await child.process.wait()
    return killed_at


async def drained(database: str) -> None:
    storage = Storage(StorageConfig(database_path=database))
    try:
        await outbox_empty(storage, timeout=120)
    finally:
        await storage.close()


async def main(cycles: int, exchanges: int, seed: int) -> None:
    rng = random.Random(seed)
    folder = tempfile.TemporaryDirectory(prefix="bench-crash-loop-")
    database = f"{folder.name}/bot.sqlite3"
    async with bench(channels=10, members=20) as run:
        env = run.env(DATABASE_PATH=database, GREENFLASH_OUTBOX="on")
        greenflash = run.stands.greenflash
        kills: list[float] = []
        for number in range(cycles):
            await (greenflash.down() if number % 2 == 0 else greenflash.up())
            kills.append(await cycle(run, env, exchanges, rng))
            print(f"cycle {number + 1}/{cycles}: Greenflash {'down' if number % 2 == 0 else 'up'}"
                  f", {len(replies(run))} replies so far", flush=True)
        await greenflash.up()
        last = await Child.start("bot_process", env, run.stands.discord)
        started = time.perf_counter()
        await drained(database)
        drain_seconds = time.perf_counter() - started
        await last.stop()
    folder.cleanup()

    ages: dict[str, float] = {}  # message id -> seconds from its reply to the kill
    for question, reply, at in replies(run):
        killed = next((kill for kill in kills if kill >= at), None)
        ages[question] = ages[reply] = float("inf") if killed is None else killed - at
    stored = [item["externalMessageId"] for item in greenflash.stored_messages()]
    requested: Counter[str] = Counter(
        item["externalMessageId"]
        for record in greenflash.accepted_for("/messages") for item in record.json["messages"]
    )
    expected = {item for item, age in ages.items() if age >= PROMISE}
    rows: list[tuple[str, object]] = [
        ("replies posted", len(replies(run))),
        (f"expected message items (>= {PROMISE:g} s before a kill)", len(expected)),
        ("expected and stored", len(expected & set(stored))),
        ("expected, missing", len(expected - set(stored))),
    ]
    for low, high in ((0.0, 0.25), (0.25, 0.5), (0.5, PROMISE)):
        made = {item for item, age in ages.items() if low <= age < high}
        rows.append((f"made {low:g}-{high:g} s before a kill: stored / made",
                     f"{len(made & set(stored))} / {len(made)}"))
    rows += [
        ("stored twice (duplicates)", len(stored) - len(set(stored))),
        ("requests re-sending a stored id", sum(n - 1 for n in requested.values())),
        ("last process: seconds to empty the outbox", f"{drain_seconds:.1f}"),
    ]
    print()
    print(table(["figure", "value"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--exchanges", type=int, default=50)
    parser.add_argument("--seed", type=int, default=21)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cycles, arguments.exchanges, arguments.seed))
