"""Splitting speed: characters per second for normal and pathological answers.

Run: ``python -m tests.benchmarks.bench_splitting``. Linear splitting keeps every figure
in the same range whatever the shape; a quadratic or looping splitter shows as a collapse
(or never finishes) on the pathological rows.
"""

from __future__ import annotations

import time

from bot.replies.splitting import split_message
from tests.replies.test_splitting import ISSUE_ANSWER, PATHOLOGICAL

NORMAL = {
    "prose": "A sentence of ordinary prose, as a model writes it. " * 20_000,
    "code answer": ("Here is how:\n```python\n" + "value = compute(x)  # step\n" * 60
                    + "```\nThat is all.\n\n") * 600,
    "issue answer x200": ISSUE_ANSWER * 200,
}


def measure(text: str, rounds: int = 3) -> tuple[float, int]:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        parts = split_message(text)
        best = min(best, time.perf_counter() - started)
    return len(text) / best, len(parts)


def main() -> None:
    print(f"{'input':28} {'chars':>9} {'parts':>6} {'chars/s':>12}")
    for group in (NORMAL, PATHOLOGICAL):
        for name, text in group.items():
            speed, parts = measure(text)
            print(f"{name:28} {len(text):>9} {parts:>6} {speed:>12,.0f}")


if __name__ == "__main__":
    main()
