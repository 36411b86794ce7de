"""The async engine for either backend, with every wait bounded.

SQLite (aiosqlite): half of ``timeout`` is SQLite's busy timeout, how long a statement
waits for another process's lock before failing with "database is locked"; half, so that
SQLite gives up (and says why) before the storage's own bound cancels a statement running
in aiosqlite's thread. The file is put in WAL mode with ``synchronous=NORMAL``
(https://www.sqlite.org/wal.html): readers no longer wait for writers, and a commit needs
no fsync, so a burst of charges from the pool's connections (or a second process) clears in
milliseconds instead of queueing on the lock; a power cut can lose the last commits, but
never corrupts the file, which is the right trade for counters and settings. Foreign keys
are enforced (SQLite leaves them off per connection unless asked,
https://www.sqlite.org/foreignkeys.html#fk_enable), so removing a knowledge source removes
its chunks on SQLite as on PostgreSQL.
PostgreSQL (asyncpg): ``timeout`` bounds connecting and ``command_timeout`` every
statement (https://magicstack.github.io/asyncpg/current/api/index.html#connection);
``pool_pre_ping`` replaces connections a restarted server has dropped, and
``pool_timeout`` bounds the wait for a free pooled connection. At most five connections
per process (2 kept, 3 more in bursts): reads are cached, so the bot needs few, and Heroku
Postgres' smallest plans allow 20 connections in all, shared by every worker dyno and the
release phase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def build_engine(url: URL, timeout: float) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": timeout / 2})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=3,
        pool_timeout=timeout,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
