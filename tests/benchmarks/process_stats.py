"""The child side of a benchmark: figures only the measured process can see of itself.

On SIGUSR1 the process prints one JSON line to stdout (resident memory after a full
collection, asyncio tasks alive, CPU seconds used, plus whatever ``extra`` adds); the
benchmark reads it with :meth:`tests.benchmarks.harness.Child.stats`. Logging goes to
stderr, so stdout carries nothing else.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
from collections.abc import Callable
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def snapshot(extra: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    gc.collect()
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    times = os.times()
    return {
        "rss_mb": resident_pages * _PAGE / 2**20,
        "tasks": len(asyncio.all_tasks()),
        "cpu_s": times.user + times.system,
        **extra(),
    }


def report_on_sigusr1(extra: Callable[[], dict[str, Any]] = dict) -> None:
    """Call inside the running loop."""
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1, lambda: print(json.dumps(snapshot(extra)), flush=True)
    )
