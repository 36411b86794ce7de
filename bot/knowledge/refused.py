"""The one error an admin sees when a source cannot be indexed.

Kept apart from :mod:`bot.knowledge.sources` so that :mod:`bot.storage` can raise it for a
bound without importing the PDF and HTML parsers.
"""

from __future__ import annotations


class SourceRefused(Exception):
    """A file or message was not indexed; ``reason`` is a sentence an admin can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
