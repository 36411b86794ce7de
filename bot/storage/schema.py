"""Schema migrations (Alembic) and the start-up check that the schema is one this code knows.

Alembic's configuration is built here in code: the migrations live in
``bot/storage/migrations`` inside the package, so an installed bot finds them wherever it
runs, and no ``alembic.ini`` is needed. To add a revision, copy the latest file in
``migrations/versions`` and set ``revision``/``down_revision``.
"""

from __future__ import annotations

import enum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import build_engine

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaState(enum.Enum):
    CURRENT = "current"
    BEHIND = "behind"  # empty, or an older revision: `python -m bot migrate` fixes it
    UNKNOWN = "unknown"  # a revision this code does not have (a newer release, a rollback)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


async def _with_alembic(engine: AsyncEngine, action: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    await _with_alembic(engine, "upgrade", revision)


def state_of(connection: Connection) -> SchemaState:
    current = set(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if not current <= known:
        return SchemaState.UNKNOWN
    return SchemaState.CURRENT if current == set(script.get_heads()) else SchemaState.BEHIND


async def engine_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as connection:
        return await connection.run_sync(state_of)


async def migrate(url: URL, revision: str = "head", *, db_timeout: float = 30.0) -> None:
    """Upgrade the database at ``url`` to ``revision`` (run by ``python -m bot migrate``
    and Heroku's release phase, before any bot process uses the new schema)."""
    engine = build_engine(url, db_timeout)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def downgrade(url: URL, revision: str, *, db_timeout: float = 30.0) -> None:
    """Take the schema back to ``revision`` before rolling back to an older release,
    which would otherwise refuse to start on a schema it does not know."""
    engine = build_engine(url, db_timeout)
    try:
        await _with_alembic(engine, "downgrade", revision)
    finally:
        await engine.dispose()


async def check_schema(url: URL, *, db_timeout: float = 5.0) -> SchemaState:
    """Raises the driver's error (or ``TimeoutError``) when the database is unreachable;
    the caller decides whether that is fatal (``doctor``) or not (the bot)."""
    engine = build_engine(url, db_timeout)
    try:
        return await engine_state(engine)
    finally:
        await engine.dispose()
