"""Threads per channel, the insights digest per guild, and leases for one-worker jobs.

``channel_settings.threads``: an admin's ``/threads on|off`` for a channel (``NULL`` means
the operator's default, ``THREAD_CHANNEL_IDS``). ``guild_settings.digest_channel_id``: where
``/insights digest`` posts the daily review list. ``leases``: a row per job that only one
worker may run at a time (the daily digest); a worker holds it until ``expires_at`` and
takes it over only once that has passed, in one conditional UPDATE or INSERT, so several
workers on one PostgreSQL database agree without a lock of their own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_settings") as batch:
        batch.add_column(sa.Column("threads", sa.Boolean()))
    with op.batch_alter_table("guild_settings") as batch:
        batch.add_column(sa.Column("digest_channel_id", sa.BigInteger()))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_for", sa.String(40)),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("guild_settings") as batch:
        batch.drop_column("digest_channel_id")
    with op.batch_alter_table("channel_settings") as batch:
        batch.drop_column("threads")
