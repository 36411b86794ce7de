"""One worker process for tests/storage/test_store.py: charge one person N times.

``python -m tests.storage.charge_worker DATABASE_URL DATABASE_PATH GUILD USER N``
"""

from __future__ import annotations

import asyncio
import sys

from bot.storage import Storage, StorageConfig


async def main(url: str, path: str, guild_id: int, user_id: int, times: int) -> None:
    storage = Storage(StorageConfig(database_url=url, database_path=path, timeout=10.0))
    try:
        for _ in range(times):
            if await storage.charge(guild_id, user_id, tokens=5) is None:
                raise SystemExit("a charge was not counted")
    finally:
        await storage.close()


if __name__ == "__main__":
    url, path, guild, user, times = sys.argv[1:]
    asyncio.run(main(url, path, int(guild), int(user), int(times)))
