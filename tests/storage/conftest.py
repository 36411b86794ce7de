"""Every storage test runs twice: on an SQLite file and on a real PostgreSQL server.

The PostgreSQL server is started once per test session (tests/standins/postgres_server.py)
and removed at the end; each test gets a fresh database on it, reached through the
``postgres://`` URL Heroku would set. If the server cannot start, the PostgreSQL half of
every test errors with the reason: nothing is skipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import Storage, StorageConfig, migrate
from tests.helpers import with_values
from tests.standins.postgres_server import PostgresServer

MODELS = ("gpt-4o-mini", "gpt-4o", "o3-mini")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    name: str
    config: StorageConfig
    server: PostgresServer | None
    sqlite_path: Path | None

    @property
    def url(self) -> URL:
        return self.config.engine_url()

    def storage(self, **kwargs: Any) -> Storage:
        """Another handle on the same database, as another worker process would open."""
        overrides = kwargs.pop("config", {})
        return Storage(with_values(self.config, **overrides), **kwargs)

    def env(self) -> dict[str, str]:
        """The variables that point a ``python -m bot`` process at this database."""
        if self.config.database_url:
            return {"DATABASE_URL": self.config.database_url.get_secret_value()}
        return {"DATABASE_PATH": self.config.database_path}

    async def stamp(self, revision: str) -> None:
        """Write ``revision`` into Alembic's table, as a newer release's migration would."""
        engine = create_async_engine(self.url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE alembic_version SET version_num = :revision"),
                    {"revision": revision},
                )
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def outage(self, *users: Storage) -> AsyncIterator[None]:
        """The database stops answering the ``users`` (the handles in use).

        PostgreSQL is shut down, which also ends their pooled connections. An SQLite file
        has no server to stop; its counterpart is the file becoming unusable under a
        running bot: the handles' connections are closed (as a dead server drops them) and
        another process holds the file in exclusive locking mode, so every new connection
        gets "database is locked" after its busy timeout
        (https://www.sqlite.org/pragma.html#pragma_locking_mode). In WAL mode every open
        connection keeps a shared lock, which is why theirs must go first.
        """
        if self.server is not None:
            self.server.stop()
            try:
                yield
            finally:
                self.server.start()
            return
        for storage in users:
            await storage.close()
        assert self.sqlite_path is not None
        # Waits (up to 30 s) for whatever the bot still writes, a charge or the knowledge
        # sync's catch-up, to let go of the file before taking it whole.
        blocker = sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=30)
        blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A database with no tables yet."""
    # The deployed bot's own database timeout: on a machine shared by parallel test
    # workers a tighter one fails saves that are not under test; the outage tests set
    # their own short one.
    config = StorageConfig(model_allowlist=MODELS)
    if request.param == "sqlite":
        path = tmp_path / "data" / "bot.sqlite3"
        return Backend("sqlite", with_values(config, database_path=str(path)), None, path)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Backend(
        "postgresql", with_values(config, database_url=server.create_database()), server, None
    )


@pytest_asyncio.fixture
async def backend(empty_backend: Backend) -> Backend:
    """A database migrated to the current schema."""
    await migrate(empty_backend.url)
    return empty_backend


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def storage(backend: Backend, clock: FakeClock) -> AsyncIterator[Storage]:
    store = backend.storage(clock=clock)
    yield store
    await store.close()
