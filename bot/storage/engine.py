"""The async engine for either backend, with every wait bounded.

SQLite (aiosqlite): half of ``timeout`` is SQLite's busy timeout, how long a statement
waits for another process's lock before failing with "database is locked"; half, so that
SQLite gives up (and says why) before the storage's own bound cancels a statement running
in aiosqlite's thread. The rollback journal
(SQLite's default) is kept rather than WAL so that a writer blocks readers visibly instead
of serving them a snapshot; the counters are single statements either way.
PostgreSQL (asyncpg): ``timeout`` bounds connecting and ``command_timeout`` every
statement (https://magicstack.github.io/asyncpg/current/api/index.html#connection);
``pool_pre_ping`` replaces connections a restarted server has dropped, and
``pool_timeout`` bounds the wait for a free pooled connection.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def build_engine(url: URL, timeout: float) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(url, connect_args={"timeout": timeout / 2})
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )
