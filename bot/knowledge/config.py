"""The knowledge base's bounds (``KNOWLEDGE_*``): each keeps one server from filling the
database or the model's context."""

from __future__ import annotations

from pydantic import Field

from bot.config.base import EnvSettings

MEGABYTE = 1024 * 1024


class KnowledgeSettings(EnvSettings):
    max_file_bytes: int = Field(default=5 * MEGABYTE, ge=1,
                                validation_alias="KNOWLEDGE_MAX_FILE_BYTES")
    """Bytes of one uploaded file, checked before any parsing."""
    max_sources: int = Field(default=50, ge=1, validation_alias="KNOWLEDGE_MAX_SOURCES")
    """Sources (files and channels) per server."""
    max_chunks: int = Field(default=5_000, ge=1, validation_alias="KNOWLEDGE_MAX_CHUNKS")
    """Chunks per server, all sources together: what a search has to rank."""
    top_passages: int = Field(default=4, ge=1, le=20, validation_alias="KNOWLEDGE_TOP_PASSAGES")
    """Passages given to the model for one question."""
