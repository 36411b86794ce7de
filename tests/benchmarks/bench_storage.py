"""What the storage adds to a reply: a settings read from the cache, from the database, and
one usage charge, on SQLite and on a local PostgreSQL server.

Run: ``python -m tests.benchmarks.bench_storage [--calls 2000]``.

"cached" is ``settings_for`` on a channel read before (the path of every reply within the
TTL); "database" is the same call on a channel not yet cached (three primary-key reads);
"charge" is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``. Times in
microseconds per call, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.storage import Storage, StorageConfig, migrate
from tests.benchmarks.harness import percentile, table
from tests.standins.postgres_server import PostgresServer

GUILD = 851_845_528_051_384_320


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for index in range(calls):
        start = time.perf_counter()
        await call(index)
        times.append((time.perf_counter() - start) * 1e6)
    return times


async def measure(name: str, config: StorageConfig, calls: int) -> list[list[object]]:
    storage = Storage(config)
    await migrate(storage.url)
    try:
        await storage.set_persona(GUILD, 1, "A persona", by=1)
        await storage.settings_for(GUILD, 1)
        cached = await timed(calls, lambda _: storage.settings_for(GUILD, 1))
        database = await timed(calls, lambda i: storage.settings_for(GUILD, 10_000 + i))
        charge = await timed(calls, lambda i: storage.charge(GUILD, i % 50, tokens=100))
    finally:
        await storage.close()
    return [
        [name, what, f"{percentile(values, 50):.0f}", f"{percentile(values, 99):.0f}"]
        for what, values in (("cached", cached), ("database", database), ("charge", charge))
    ]


async def main(calls: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "bench.sqlite3")
        rows += await measure("sqlite", StorageConfig(database_path=path), calls)
    server = PostgresServer()
    try:
        server.start()
        url = server.create_database()
        rows += await measure("postgresql", StorageConfig(database_url=url), calls)
    finally:
        server.remove()
    print(table(["backend", "call", "p50 µs", "p99 µs"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
