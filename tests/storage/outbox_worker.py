"""One worker process for tests/storage/test_outbox_processes.py: send what the outbox
holds, through the bot's own :class:`~bot.analytics.calls.Analytics`, until it is empty.

``python -m tests.storage.outbox_worker`` with the database (``DATABASE_URL`` or
``DATABASE_PATH``) and ``GREENFLASH_*`` in the environment; exits 0 once the outbox has
nothing pending (within 60 s), after the usual close and its shutdown line.
"""

from __future__ import annotations

import asyncio
import logging

from bot.analytics.calls import Analytics
from bot.config.products import ProductConfig
from bot.greenflash_client import GreenflashSettings, build_client
from bot.storage import Storage, StorageConfig

log = logging.getLogger("outbox_worker")


async def outbox_empty(storage: Storage, *, timeout: float) -> None:
    """Until no call waits in the outbox (the database has no change signal, so it is read
    every 100 ms), or ``TimeoutError`` after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            if not (await storage.outbox.summary()).pending:
                return
            await asyncio.sleep(0.1)


async def main() -> None:
    settings = GreenflashSettings()
    storage = Storage(StorageConfig())
    analytics = Analytics(
        build_client(settings), ProductConfig(default_product_id="prod-standin"),
        model="gpt-4o-mini", system_prompt="unused", settings=settings,
    )
    analytics.use_outbox(storage.outbox)
    analytics.start()
    try:
        await outbox_empty(storage, timeout=60)
    finally:
        await analytics.close()
        await storage.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    asyncio.run(main())
