"""The knowledge base at scale: indexing throughput and search latency at 10 000 chunks, on
SQLite and on a local PostgreSQL server.

Run: ``python -m tests.benchmarks.bench_knowledge [--chunks 10000] [--queries 500]``.

A page is 500 words of generated text (a Zipf-like draw from 5 000 made-up words, so
common words match many chunks as in real prose, rare ones few), under a heading, with
paragraphs of 50 to 120 words; 100 pages make one source, and sources are added to one
guild until it holds ``--chunks`` chunks. "index" is chunking plus
:meth:`KnowledgeStore.replace_source` (one transaction per source), in pages per second;
generating the text is not counted. "search" is
:meth:`KnowledgeStore.search` for the top 4 passages on the full index, for questions of 1
to 6 words (some stop words among them), in milliseconds, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from bot.knowledge.chunking import split_document
from bot.knowledge.config import KnowledgeSettings
from bot.storage import Storage, StorageConfig, migrate
from bot.storage.knowledge import KnowledgeStore
from tests.benchmarks.harness import percentile, table
from tests.standins.postgres_server import PostgresServer

GUILD = 851_845_528_051_384_320
WORDS_PER_PAGE = 500
PAGES_PER_SOURCE = 100
TOP = KnowledgeSettings().top_passages


def vocabulary(rng: random.Random, size: int = 5_000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "quel", "dor", "fin", "ust", "ber", "ix"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def page(rng: random.Random, words: list[str], weights: list[float], number: int) -> str:
    drawn = rng.choices(words, weights, k=WORDS_PER_PAGE)
    paragraphs, start = [], 0
    while start < len(drawn):
        size = rng.randint(50, 120)
        paragraphs.append(" ".join(drawn[start : start + size]) + ".")
        start += size
    return f"## Page {number}\n\n" + "\n\n".join(paragraphs)


def questions(rng: random.Random, words: list[str], weights: list[float], count: int) -> list[str]:
    stop = ["how", "do", "i", "the", "what", "is", "a"]
    asked = []
    for _ in range(count):
        picked = rng.choices(stop, k=rng.randint(0, 2))
        picked += rng.choices(words, weights, k=rng.randint(1, 4))
        asked.append(" ".join(picked))
    return asked


async def measure(name: str, config: StorageConfig, target: int, queries: int) -> list[object]:
    rng = random.Random(20)
    words = vocabulary(rng)
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    storage = Storage(config)
    await migrate(storage.url)
    knowledge = KnowledgeStore(
        storage._engine,  # as KnowledgeStore.sharing does, with bounds this size allows
        timeout=10.0,
        max_sources=10_000,
        max_chunks=10**7,
    )
    try:
        chunks = pages = 0
        elapsed = 0.0
        while chunks < target:
            text = "\n\n".join(
                page(rng, words, weights, pages + n) for n in range(PAGES_PER_SOURCE)
            )
            started = time.perf_counter()
            parts = split_document(text)
            await knowledge.replace_source(GUILD, f"Handbook {pages}", "file", parts)
            elapsed += time.perf_counter() - started
            chunks += len(parts)
            pages += PAGES_PER_SOURCE
        times, hits = [], 0
        for question in questions(rng, words, weights, queries):
            began = time.perf_counter()
            found = await knowledge.search(GUILD, question, TOP)
            times.append((time.perf_counter() - began) * 1e3)
            hits += bool(found)
    finally:
        await storage.close()
    return [
        name, chunks, pages, f"{pages / elapsed:,.0f}", f"{percentile(times, 50):.1f}",
        f"{percentile(times, 99):.1f}", f"{hits / queries:.0%}",
    ]


async def main(chunks: int, queries: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "bench.sqlite3")
        rows.append(await measure("sqlite", StorageConfig(database_path=path), chunks, queries))
    server = PostgresServer()
    try:
        server.start()
        url = server.create_database()
        rows.append(await measure("postgresql", StorageConfig(database_url=url), chunks, queries))
    finally:
        server.remove()
    headers = ["backend", "chunks", "pages", "index pages/s", "search p50 ms", "search p99 ms"]
    print(table([*headers, "found"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.chunks, arguments.queries))
