"""The schema, as SQLAlchemy Core tables. The migrations create it; this module is what the
queries use, and ``tests/storage/test_migrations.py`` checks that the two agree.

Discord ids are snowflakes below 2**63, so they fit ``BIGINT`` on both backends. A row
holds only what an admin set: ``NULL`` means "not set here, inherit".
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

# Named constraints, so a later migration can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Per channel (a thread is a channel): its persona and model, if an admin set them.
channel_settings = Table(
    "channel_settings",
    metadata,
    Column("channel_id", BigInteger, primary_key=True, autoincrement=False),
    Column("guild_id", BigInteger, nullable=False),
    Column("persona", Text),
    Column("model", String(100)),
)

# Per guild: the model for channels without their own, and the daily budget.
guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("model", String(100)),
    Column("budget_tokens", BigInteger),
    Column("budget_messages", Integer),
)

# Usage per person, guild and UTC day; DMs count under guild 0 (no snowflake is 0).
daily_usage = Table(
    "daily_usage",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("day", Date, primary_key=True),
    Column("tokens", BigInteger, nullable=False),
    Column("messages", Integer, nullable=False),
)
# Revision 0002: pruning old days filters on ``day`` alone, which the key cannot serve.
Index("ix_daily_usage_day", daily_usage.c.day)

# Who changed what and when: the source of the announcement and the audit trail.
setting_changes = Table(
    "setting_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger),
    Column("user_id", BigInteger, nullable=False),
    Column("setting", String(20), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
Index("ix_setting_changes_guild_id", setting_changes.c.guild_id)
