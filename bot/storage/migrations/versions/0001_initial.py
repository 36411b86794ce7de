"""Per-channel and per-guild settings, daily usage, and the change log.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_settings",
        sa.Column("channel_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("persona", sa.Text),
        sa.Column("model", sa.String(100)),
        sa.PrimaryKeyConstraint("channel_id", name="pk_channel_settings"),
    )
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("model", sa.String(100)),
        sa.Column("budget_tokens", sa.BigInteger),
        sa.Column("budget_messages", sa.Integer),
        sa.PrimaryKeyConstraint("guild_id", name="pk_guild_settings"),
    )
    op.create_table(
        "daily_usage",
        sa.Column("guild_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "day", name="pk_daily_usage"),
    )
    op.create_table(
        "setting_changes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("channel_id", sa.BigInteger),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("setting", sa.String(20), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_setting_changes"),
    )
    op.create_index("ix_setting_changes_guild_id", "setting_changes", ["guild_id"])


def downgrade() -> None:
    op.drop_index("ix_setting_changes_guild_id", table_name="setting_changes")
    for table in ("setting_changes", "daily_usage", "guild_settings", "channel_settings"):
        op.drop_table(table)
