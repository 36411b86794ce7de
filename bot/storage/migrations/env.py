"""Alembic's environment: run the migrations on the connection :mod:`bot.storage.schema`
hands over.

The bot's engines are async, and Alembic runs migrations synchronously; ``schema.py``
therefore opens the async connection itself and calls Alembic inside ``run_sync``
(https://alembic.sqlalchemy.org/en/latest/cookbook.html#programmatic-api-use-connection-sharing-with-asyncio),
so this file never creates an engine or an event loop of its own.
"""

from __future__ import annotations

from alembic import context

from bot.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m bot migrate`, not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
