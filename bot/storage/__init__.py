"""Everything the bot keeps in a database: per-channel personas and models, per-guild
budgets, per-person daily usage, and who changed what.

Nothing outside this package imports SQLAlchemy. The bot uses :class:`Storage`; the CLI
uses :func:`migrate` and :func:`check_schema`.
"""

from __future__ import annotations

from bot.storage.budget import Budget, GuildBudget, Usage
from bot.storage.changes import Change
from bot.storage.channels import MAX_PERSONA_CHARS, ChannelSettings
from bot.storage.config import StorageConfig
from bot.storage.digests import Digests, digest_lease
from bot.storage.health import DATABASE_ERRORS
from bot.storage.health import describe as describe_error
from bot.storage.outbox import LEASE_EXPIRED, Claimed, OutboxStore, OutboxSummary, Outcome
from bot.storage.schema import SchemaState, check_schema, downgrade, head, migrate
from bot.storage.store import BudgetCheck, Storage, StorageUnavailable
from bot.storage.urls import describe, engine_url, sqlite_file_missing

__all__ = [
    "DATABASE_ERRORS",
    "LEASE_EXPIRED",
    "MAX_PERSONA_CHARS",
    "Budget",
    "BudgetCheck",
    "Change",
    "ChannelSettings",
    "Claimed",
    "Digests",
    "GuildBudget",
    "OutboxStore",
    "OutboxSummary",
    "Outcome",
    "SchemaState",
    "Storage",
    "StorageConfig",
    "StorageUnavailable",
    "Usage",
    "check_schema",
    "describe",
    "describe_error",
    "digest_lease",
    "downgrade",
    "engine_url",
    "head",
    "migrate",
    "sqlite_file_missing",
]
