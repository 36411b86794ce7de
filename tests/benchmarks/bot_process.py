"""The real bot in a benchmark's child process, run the way ``python -m bot`` runs it.

Two differences, both for measuring: the Greenflash product id comes from
``BENCH_PRODUCT_ID`` (the committed ``products.toml`` ships empty), and SIGUSR1 prints the
process's figures, with the Greenflash calls still pending and the analytics counters, the
loop watchdog's longest stall and the invalid Discord requests the bot counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from typing import Any

from bot.cli.preflight import StartupSettings
from bot.cli.run import prepare, run
from bot.client import ChatBot
from bot.config.products import ProductConfig
from tests.benchmarks.process_stats import report_on_sigusr1


def analytics_figures(bot: ChatBot) -> dict[str, Any]:
    return {"greenflash_pending": bot.analytics.pending,
            **dataclasses.asdict(bot.analytics.stats),
            "longest_stall_s": bot.watchdog.longest_stall, "stalls": bot.watchdog.stalls,
            "budget_in_window": bot.request_budget.count(),
            "budget_total": bot.request_budget.total}


async def serve(bot: ChatBot, startup: StartupSettings) -> int:
    report_on_sigusr1(lambda: analytics_figures(bot))
    return await run(bot, bot.settings.discord_token, startup)


def main() -> int:
    bot, startup = prepare(
        ProductConfig(default_product_id=os.environ.get("BENCH_PRODUCT_ID") or None)
    )
    return asyncio.run(serve(bot, startup))


if __name__ == "__main__":
    sys.exit(main())
