"""The knowledge base's bounds, read from the environment (``KNOWLEDGE_*``).

A plain ``BaseSettings`` of its own, so it can join the bot's settings models as one more
section without depending on them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MEGABYTE = 1024 * 1024


class KnowledgeSettings(BaseSettings):
    """Each bound keeps one server from filling the database or the model's context."""

    model_config = SettingsConfigDict(env_prefix="KNOWLEDGE_", frozen=True)

    # Bytes of one uploaded file, checked before any parsing.
    max_file_bytes: int = Field(default=5 * MEGABYTE, gt=0)
    # Sources (files and channels) per server.
    max_sources: int = Field(default=50, gt=0)
    # Chunks per server, all sources together: what a search has to rank.
    max_chunks: int = Field(default=5_000, gt=0)
    # Passages given to the model for one question.
    top_passages: int = Field(default=4, gt=0, le=20)
