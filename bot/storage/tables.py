"""The schema, as SQLAlchemy Core tables, and the names of the full-text objects those
cannot describe. The migrations create it; this module is what the queries use, and
``tests/storage/test_migrations.py`` checks that the two agree.

Discord ids are snowflakes below 2**63, so they fit ``BIGINT`` on both backends. A row
holds only what an admin set: ``NULL`` means "not set here, inherit".
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
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
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
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
    # Revision 0004: /threads on|off here (NULL: the operator's THREAD_CHANNEL_IDS).
    Column("threads", Boolean),
)

# Per guild: the model for channels without their own, and the daily budget.
guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("model", String(100)),
    Column("budget_tokens", BigInteger),
    Column("budget_messages", Integer),
    # Revision 0004: where /insights digest posts the daily review list.
    Column("digest_channel_id", BigInteger),
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

# Revision 0003: the knowledge base. A source is a file or a channel; its title is how
# admins name it, unique per guild. A channel source remembers the newest message a
# catch-up has read, so a restart reads only what came after.
knowledge_sources = Table(
    "knowledge_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("title", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # "file" or "channel"
    Column("channel_id", BigInteger),
    Column("bytes", BigInteger, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("indexed_at", DateTime(timezone=True), nullable=False),
    Column("last_message_id", BigInteger),
)
Index(
    "ix_knowledge_sources_guild_id_title",
    knowledge_sources.c.guild_id,
    knowledge_sources.c.title,
    unique=True,
)
# A channel is one source at most (NULLs, the file sources, never collide).
Index("ix_knowledge_sources_channel_id", knowledge_sources.c.channel_id, unique=True)

# The passages that are searched. ``guild_id`` is copied from the source so a search
# filters on it without a join; ``message_id`` ties a channel message's chunks to it.
knowledge_chunks = Table(
    "knowledge_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "source_id",
        Integer,
        ForeignKey("knowledge_sources.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("guild_id", BigInteger, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("heading", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("message_id", BigInteger),
)
Index("ix_knowledge_chunks_source_id", knowledge_chunks.c.source_id)
Index("ix_knowledge_chunks_guild_id", knowledge_chunks.c.guild_id)
Index("ix_knowledge_chunks_message_id", knowledge_chunks.c.message_id)

# Where knowledge is used, as admins switched it (``/knowledge here``, ``/knowledge dms``):
# ``scope`` "here" with a channel's id as ``place_id``, or "dms" with 0 (the server's DMs).
# No row means the default: on in the server's channels, off in DMs.
knowledge_switches = Table(
    "knowledge_switches",
    metadata,
    Column("guild_id", BigInteger, primary_key=True),
    Column("scope", String(10), primary_key=True),
    Column("place_id", BigInteger, primary_key=True),
    Column("enabled", Boolean, nullable=False),
)

# The full-text index is each database's own engine, which Core tables do not describe;
# revision 0003 creates it, the queries in ``knowledge.py`` use these names, and the schema
# test expects exactly these objects on each backend.
# SQLite: an FTS5 table over knowledge_chunks' heading and text (external content, kept in
# step by triggers), stored by FTS5 in its shadow tables
# (https://www.sqlite.org/fts5.html#external_content_tables).
FTS_TABLE = "knowledge_fts"
FTS_COLUMNS = ("heading", "text")
FTS_SHADOW_TABLES = tuple(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config"))
FTS_TRIGGERS = tuple(f"knowledge_chunks_{event}" for event in ("ai", "ad", "au"))
# PostgreSQL: a generated tsvector column on knowledge_chunks and its GIN index
# (https://www.postgresql.org/docs/current/textsearch-tables.html#TEXTSEARCH-TABLES-INDEX).
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_knowledge_chunks_search_vector"

# Revision 0004: a job only one worker may run at a time (the daily digest). ``done_for``
# names the period the job last completed for (a UTC date), so a second worker that takes
# the lease after the first finished does not run it again.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("done_for", String(40)),
)

# Revision 0005: every Greenflash call, written down before it is sent and deleted once
# Greenflash answers 2xx (``bot/storage/outbox.py``). ``payload`` is the SDK method's keyword
# arguments as JSON; a row is claimed by one worker at a time (``claimed_by`` until
# ``claimed_until``); ``dead_at`` and ``error`` mark a call Greenflash refused for good.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", DateTime(timezone=True)),
    Column("dead_at", DateTime(timezone=True)),
    Column("error", String(300)),
)
Index("ix_outbox_next_attempt_at", outbox.c.next_attempt_at)
