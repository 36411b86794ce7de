"""``doctor``'s database check on both backends: reachable, and on this release's schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.cli.checks import Status
from bot.cli.doctor_database import check_database, check_outbox
from bot.storage import Outcome, StorageConfig, head
from tests.helpers import with_values
from tests.standins.postgres_server import free_port
from tests.storage.conftest import Backend


async def test_a_current_schema_passes_names_the_revision_and_reports_the_outbox(
    backend: Backend,
) -> None:
    check, outbox = await check_database(backend.config, seconds=5)
    assert check.status is Status.PASS
    assert f"schema current (revision {head()})" in check.detail
    assert (outbox.status, outbox.detail) == (Status.PASS, "0 pending, 0 dead")


async def test_the_outbox_line_warns_of_dead_calls_and_says_how_old_the_oldest_is(
    backend: Backend,
) -> None:
    storage = backend.storage()
    try:
        await storage.outbox.add([("message", "{}"), ("rating", "{}")])
        (refused,) = await storage.outbox.claim("worker", 1, dt.timedelta(seconds=30))
        await storage.outbox.settle([Outcome(refused.id, "dead", "BadRequestError (HTTP 400)")])
    finally:
        await storage.close()
    (outbox,) = await check_outbox(backend.config)
    assert outbox.status is Status.WARN
    assert outbox.detail == "1 pending, 1 dead, the oldest 0 min old"
    assert "error column" in outbox.fix


def make_empty_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


async def test_a_schema_behind_fails_on_a_server_with_the_migrate_fix(
    empty_backend: Backend,
) -> None:
    if empty_backend.server is None:
        # The embedded file: make it exist, empty, so the check reads it (the server's
        # database exists already).
        make_empty_file(Path(empty_backend.config.database_path))
    (check,) = await check_database(empty_backend.config, seconds=5)
    if empty_backend.server is None:
        assert check.status is Status.PASS
        assert "the bot migrates its SQLite file at start" in check.detail
    else:
        assert check.status is Status.FAIL
        assert "python -m bot migrate" in check.fix


async def test_an_unknown_schema_fails(backend: Backend) -> None:
    await backend.stamp("f00d")
    (check,) = await check_database(backend.config, seconds=5)
    assert check.status is Status.FAIL
    assert "newer than this release knows" in check.detail


async def test_an_unreachable_server_fails_within_the_bound(backend: Backend) -> None:
    config = with_values(backend.config,
                     database_url=f"postgres://postgres:s3cret@127.0.0.1:{free_port()}/none")
    (check,) = await check_database(config, seconds=2)
    assert check.status is Status.FAIL
    assert check.detail.startswith("unreachable")
    assert "DATABASE_URL" in check.fix
    assert "s3cret" not in check.line()


# The two below are about the embedded SQLite file alone.


async def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    (check,) = await check_database(StorageConfig(database_path=str(path)), seconds=2)
    assert check.status is Status.PASS
    assert "not created yet" in check.detail
    assert not path.exists() and not path.parent.exists()


async def test_sqlite_on_heroku_warns_to_add_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNO", "worker.1")
    checks = await check_database(StorageConfig(database_path=str(tmp_path / "x.db")), 2)
    assert [check.status for check in checks] == [Status.WARN, Status.PASS]
    assert "heroku-postgresql" in checks[0].fix
