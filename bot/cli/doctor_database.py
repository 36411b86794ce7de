"""``doctor``'s database lines: reachable, on this release's schema, and the Greenflash
calls its outbox holds. Only reads: an SQLite file that does not exist yet is reported,
not created."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

from bot.cli.checks import CHECK_SECONDS, Check, Status
from bot.storage import (
    DATABASE_ERRORS,
    SchemaState,
    Storage,
    StorageConfig,
    check_schema,
    describe_error,
    head,
    sqlite_file_missing,
)
from bot.storage import describe as describe_url

_SCHEMA_LINES = {
    SchemaState.CURRENT: (Status.PASS, "reachable, schema current (revision {head})", ""),
    SchemaState.BEHIND: (
        Status.FAIL, "reachable, schema behind this release's (revision {head})",
        "run `python -m bot migrate` (on Heroku the release phase runs it)",
    ),
    SchemaState.UNKNOWN: (
        Status.FAIL, "reachable, but its schema is newer than this release knows",
        "deploy the release that made it, or downgrade the schema with that release",
    ),
}


async def check_database(config: StorageConfig, seconds: float = CHECK_SECONDS) -> list[Check]:
    """Reachable and on this release's schema (then the outbox). Only reads: an SQLite file
    that does not exist yet is reported, not created (the bot creates it at start)."""
    url = config.engine_url()
    name = f"Database {describe_url(url)}"
    checks: list[Check] = []
    if not config.database_url and os.environ.get("DYNO"):
        checks.append(Check(
            Status.WARN, "Database", "an SQLite file on Heroku loses every setting when the "
            "dyno restarts", "heroku addons:create heroku-postgresql:essential-0",
        ))
    if sqlite_file_missing(url):
        return [*checks, Check(Status.PASS, name, "not created yet: the bot creates it at start")]
    try:
        async with asyncio.timeout(seconds):
            state = await check_schema(url, db_timeout=seconds)
    except DATABASE_ERRORS as error:
        return [*checks, Check(Status.FAIL, name, f"unreachable: {describe_error(error)}",
                               "check DATABASE_URL and that the database server runs")]
    status, detail, fix = _SCHEMA_LINES[state]
    if state is SchemaState.BEHIND and url.get_backend_name() == "sqlite":
        status, fix = Status.PASS, ""
        detail += "; the bot migrates its SQLite file at start"
    outbox = await check_outbox(config) if state is SchemaState.CURRENT else []
    return [*checks, Check(status, name, detail.format(head=head()), fix), *outbox]


async def check_outbox(config: StorageConfig) -> list[Check]:
    """Greenflash calls waiting in the database: pending, dead (refused, kept), the oldest."""
    storage = Storage(config)
    try:
        summary = await storage.outbox.summary()
    except DATABASE_ERRORS as error:
        return [Check(Status.WARN, "Greenflash outbox", f"unreadable: {describe_error(error)}")]
    finally:
        await storage.close()
    age = summary.oldest_age(dt.datetime.now(dt.UTC))
    detail = f"{summary.pending} pending, {summary.dead} dead" + (
        f", the oldest {age.total_seconds() / 60:.0f} min old" if age else "")
    fix = ("Greenflash refused the dead calls: read the outbox table's error column"
           if summary.dead else "check that a worker runs and Greenflash answers"
           if age and age > dt.timedelta(hours=1) else "")
    return [Check(Status.WARN if fix else Status.PASS, "Greenflash outbox", detail, fix)]
