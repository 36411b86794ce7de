"""``python -m bot migrate``: bring the database's schema up to this release's.

Heroku runs it in the release phase (``Procfile``: ``release: python -m bot migrate``),
before any dyno of the new release starts, so the workers find the schema they know. It
refuses a schema it does not know (a newer release's, or one rolled back past): migrating
"up" from there could only guess. One line either way; exit 0 when the schema is current.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.config.base import read_settings
from bot.storage import (
    DATABASE_ERRORS,
    SchemaState,
    StorageConfig,
    check_schema,
    describe,
    describe_error,
    head,
    migrate,
)

EXIT_FAILED = 1


async def _migrate(config: StorageConfig, out: TextIO) -> int:
    url = config.engine_url()
    where = describe(url)
    try:
        state = await check_schema(url)
        if state is SchemaState.UNKNOWN:
            print(f"migrate: the database ({where}) has a schema this release does not know; "
                  "deploy the release that made it, or downgrade it with that release",
                  file=out)
            return EXIT_FAILED
        if state is SchemaState.BEHIND:
            await migrate(url)
    except DATABASE_ERRORS as error:
        print(f"migrate: the database ({where}) did not answer: {describe_error(error)}",
              file=out)
        return EXIT_FAILED
    done = "migrated to" if state is SchemaState.BEHIND else "already at"
    print(f"migrate: the database ({where}) is {done} revision {head()}", file=out)
    return 0


def run_migrate(out: TextIO = sys.stdout) -> int:
    """Raises :class:`SettingsError` for the caller's one configuration line (exit 2)."""
    return asyncio.run(_migrate(read_settings(StorageConfig), out))
