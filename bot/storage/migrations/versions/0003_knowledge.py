"""The knowledge base: sources, their chunks, where knowledge is switched on or off, and
each backend's full-text index.

SQLite gets an FTS5 table with external content (https://www.sqlite.org/fts5.html
#external_content_tables): the text is stored once, in ``knowledge_chunks``, and FTS5
keeps only its index, which three triggers keep in step with every insert, update and
delete (the pattern the FTS5 documentation gives). ``porter unicode61`` folds case and
diacritics and stems English ("refunds" finds "refund"), as the PostgreSQL side does.

PostgreSQL gets a generated ``tsvector`` column with a GIN index
(https://www.postgresql.org/docs/current/textsearch-tables.html#TEXTSEARCH-TABLES-INDEX
and https://www.postgresql.org/docs/current/ddl-generated-columns.html): the database
computes it on every write, so no code path can forget it, and the two-argument
``to_tsvector`` is immutable, as a generated column requires.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FTS5_OBJECTS = (
    """CREATE VIRTUAL TABLE knowledge_fts USING fts5(
        heading, text, content='knowledge_chunks', content_rowid='id',
        tokenize='porter unicode61')""",
    """CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN
        INSERT INTO knowledge_fts(rowid, heading, text)
        VALUES (new.id, new.heading, new.text);
    END""",
    """CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, heading, text)
        VALUES ('delete', old.id, old.heading, old.text);
    END""",
    """CREATE TRIGGER knowledge_chunks_au AFTER UPDATE ON knowledge_chunks BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, heading, text)
        VALUES ('delete', old.id, old.heading, old.text);
        INSERT INTO knowledge_fts(rowid, heading, text)
        VALUES (new.id, new.heading, new.text);
    END""",
)


def upgrade() -> None:
    op.create_table(
        "knowledge_sources",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("channel_id", sa.BigInteger),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_id", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_sources"),
    )
    op.create_index(
        "ix_knowledge_sources_guild_id_title",
        "knowledge_sources",
        ["guild_id", "title"],
        unique=True,
    )
    op.create_index(
        "ix_knowledge_sources_channel_id", "knowledge_sources", ["channel_id"], unique=True
    )
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("heading", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("message_id", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_chunks"),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["knowledge_sources.id"],
            name="fk_knowledge_chunks_source_id_knowledge_sources",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "knowledge_switches",
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("place_id", sa.BigInteger, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "scope", "place_id", name="pk_knowledge_switches"),
    )
    for column in ("source_id", "guild_id", "message_id"):
        op.create_index(f"ix_knowledge_chunks_{column}", "knowledge_chunks", [column])
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS5_OBJECTS:
            op.execute(statement)
        return
    op.add_column(
        "knowledge_chunks",
        sa.Column(
            "search_vector",
            TSVECTOR,
            sa.Computed("to_tsvector('english', heading || ' ' || text)", persisted=True),
        ),
    )
    op.create_index(
        "ix_knowledge_chunks_search_vector",
        "knowledge_chunks",
        ["search_vector"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("knowledge_chunks_ai", "knowledge_chunks_ad", "knowledge_chunks_au"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE knowledge_fts")
    # Dropping a table drops its indexes (and the generated column's GIN index) with it.
    op.drop_table("knowledge_switches")
    op.drop_table("knowledge_chunks")
    op.drop_table("knowledge_sources")
