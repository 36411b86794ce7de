"""Index daily usage by day, for pruning days past the retention window.

The primary key (guild_id, user_id, day) cannot serve ``WHERE day < :cutoff``: without
this index every start-up prune reads the whole table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_daily_usage_day", "daily_usage", ["day"])


def downgrade() -> None:
    op.drop_index("ix_daily_usage_day", table_name="daily_usage")
