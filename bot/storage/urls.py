"""From the operator's settings to the SQLAlchemy URL of the async driver.

Heroku Postgres sets ``DATABASE_URL=postgres://user:pass@host:5432/db`` (the libpq
scheme, https://devcenter.heroku.com/articles/connecting-heroku-postgres); SQLAlchemy 2
only knows ``postgresql``, and the async engine needs the ``asyncpg`` driver named. libpq's
``sslmode`` is not a keyword of ``asyncpg.connect`` (SQLAlchemy passes query parameters
through as keywords), whose ``ssl`` takes the same mode names
(https://magicstack.github.io/asyncpg/current/api/index.html#connection), so it is renamed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}


def engine_url(database_url: str, database_path: str) -> URL:
    """``DATABASE_URL`` when set (PostgreSQL or SQLite), else the SQLite file at
    ``database_path``."""
    if not database_url:
        return URL.create("sqlite+aiosqlite", database=str(Path(database_path)))
    url = make_url(database_url)
    if url.drivername in _POSTGRES_SCHEMES:
        url = url.set(drivername="postgresql+asyncpg")
        if "sslmode" in url.query:
            query = dict(url.query)
            query["ssl"] = query.pop("sslmode")
            url = url.set(query=query)
    elif url.drivername in {"sqlite", "sqlite+aiosqlite"}:
        url = url.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"DATABASE_URL must be a postgres:// or sqlite:// URL (got {url.drivername}://)")
    return url


def describe(url: URL) -> str:
    """The URL for logs and the doctor: never the password."""
    return url.render_as_string(hide_password=True)


def sqlite_file_missing(url: URL) -> bool:
    """An SQLite database whose file does not exist yet (connecting would create it)."""
    return url.get_backend_name() == "sqlite" and not Path(url.database or "").exists()
