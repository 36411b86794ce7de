"""Alembic migrations on SQLite and PostgreSQL: from an empty database, from the previous
revision, back down, and the start-up check against a revision this code does not know.

The declared schema is ``bot/storage/tables.py``'s Core tables plus the full-text objects
revision 0003 creates beside them, which Core cannot describe: on SQLite the FTS5 table,
its triggers and the shadow tables FTS5 keeps its index in (their columns are FTS5's own
layout, so only their names are compared); on PostgreSQL the generated ``tsvector`` column
and its GIN index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import SchemaState, Usage, check_schema, downgrade, head, migrate
from bot.storage.tables import (
    FTS_COLUMNS,
    FTS_SHADOW_TABLES,
    FTS_TABLE,
    FTS_TRIGGERS,
    SEARCH_COLUMN,
    SEARCH_INDEX,
    metadata,
)
from tests.storage.conftest import Backend

GUILD = 851_845_528_051_384_320
USER = 602_862_417_600_446_464


async def _schema(backend: Backend) -> dict[str, Any]:
    """Tables -> (column names, index names), as the database reports them (``None`` for
    FTS5's shadow tables), and ``"triggers"`` -> the trigger names."""
    engine = create_async_engine(backend.url)

    def read(connection: Any) -> dict[str, Any]:
        found = inspect(connection)
        schema: dict[str, Any] = {
            table: None
            if table in FTS_SHADOW_TABLES
            else (
                {column["name"] for column in found.get_columns(table)},
                {index["name"] for index in found.get_indexes(table)},
            )
            for table in found.get_table_names()
            if table != "alembic_version"
        }
        triggers = (
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            if connection.dialect.name == "sqlite"
            else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        )
        if names := set(connection.execute(text(triggers)).scalars()):
            schema["triggers"] = names
        return schema

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def _declared(backend: str) -> dict[str, Any]:
    declared: dict[str, Any] = {
        table.name: ({column.name for column in table.columns}, {i.name for i in table.indexes})
        for table in metadata.sorted_tables
    }
    if backend == "sqlite":
        declared[FTS_TABLE] = (set(FTS_COLUMNS), set())
        declared.update(dict.fromkeys(FTS_SHADOW_TABLES))
        declared["triggers"] = set(FTS_TRIGGERS)
    else:
        columns, indexes = declared["knowledge_chunks"]
        declared["knowledge_chunks"] = (columns | {SEARCH_COLUMN}, indexes | {SEARCH_INDEX})
    return declared


async def test_migrating_an_empty_database_gives_the_declared_schema(
    empty_backend: Backend,
) -> None:
    url = empty_backend.url
    assert await check_schema(url) is SchemaState.BEHIND
    await migrate(url)
    assert await check_schema(url) is SchemaState.CURRENT
    assert await _schema(empty_backend) == _declared(empty_backend.name)


async def _execute(backend: Backend, *statements: str) -> None:
    """Write rows as an older release would have: in plain SQL on the older schema, since
    today's queries name columns a later revision added."""
    engine = create_async_engine(backend.url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_migrating_from_the_first_revision_keeps_the_data(
    empty_backend: Backend,
) -> None:
    url = empty_backend.url
    await migrate(url, "0001")
    assert await check_schema(url) is SchemaState.BEHIND
    await _execute(
        empty_backend,
        "INSERT INTO daily_usage (guild_id, user_id, day, tokens, messages) "
        f"VALUES ({GUILD}, {USER}, CURRENT_DATE, 42, 1)",
        "INSERT INTO channel_settings (channel_id, guild_id, persona) "
        f"VALUES (1, {GUILD}, 'Kept across the upgrade')",
    )

    await migrate(url)
    assert await check_schema(url) is SchemaState.CURRENT
    assert await _schema(empty_backend) == _declared(empty_backend.name)
    upgraded = empty_backend.storage()
    try:
        assert await upgraded.usage(GUILD, USER) == Usage(42, 1)
        assert (await upgraded.settings_for(GUILD, 1)).persona == "Kept across the upgrade"
    finally:
        await upgraded.close()


async def test_downgrading_to_the_previous_revision_and_to_base(backend: Backend) -> None:
    url = backend.url
    await downgrade(url, "0004")
    before_outbox = _declared(backend.name)
    before_outbox.pop("outbox")
    assert await _schema(backend) == before_outbox
    await downgrade(url, "0003")
    before_leases = before_outbox
    before_leases.pop("leases")
    before_leases["channel_settings"][0].discard("threads")
    before_leases["guild_settings"][0].discard("digest_channel_id")
    assert await _schema(backend) == before_leases
    await downgrade(url, "0002")
    before_knowledge = before_leases
    for table in ("knowledge_sources", "knowledge_chunks", "knowledge_switches", FTS_TABLE,
                  *FTS_SHADOW_TABLES):
        before_knowledge.pop(table, None)
    before_knowledge.pop("triggers", None)
    assert await _schema(backend) == before_knowledge
    await downgrade(url, "0001")
    assert "ix_daily_usage_day" not in (await _schema(backend))["daily_usage"][1]
    await downgrade(url, "base")
    assert await _schema(backend) == {}
    await migrate(url)
    assert await check_schema(url) is SchemaState.CURRENT


async def test_a_revision_this_code_does_not_know_is_reported(backend: Backend) -> None:
    await backend.stamp("f00d")
    assert head() != "f00d"
    assert await check_schema(backend.url) is SchemaState.UNKNOWN
    storage = backend.storage()
    try:
        assert await storage.prepare() is SchemaState.UNKNOWN
    finally:
        await storage.close()


async def test_prepare_migrates_the_embedded_sqlite_file_but_only_checks_a_server(
    empty_backend: Backend,
) -> None:
    storage = empty_backend.storage()
    try:
        state = await storage.prepare()
    finally:
        await storage.close()
    if empty_backend.name == "sqlite":
        assert state is SchemaState.CURRENT
    else:
        assert state is SchemaState.BEHIND
        assert await _schema(empty_backend) == {}


async def test_prepare_on_an_unreachable_database_runs_on_defaults(backend: Backend) -> None:
    storage = backend.storage()
    try:
        async with backend.outage(storage):
            assert await storage.prepare() is None
            assert (await storage.settings_for(GUILD, 1)).persona is None
    finally:
        await storage.close()
