"""What Greenflash gets for a question with attachments: notes, ``context``, properties.

The user message's ``content`` is what the person wrote plus one note per attachment. The
text of attached files goes in the message item's ``context`` (the greenflash SDK's
``MessageItemParam.context``: "Additional context (e.g., RAG data) used to generate the
message"), bounded. Message-level ``properties`` list the attachments. Image bytes never
leave for Greenflash: none of these functions reads them.
"""

from __future__ import annotations

from typing import Any

from bot.attachments.kinds import AttachmentBatch, ImageInput, Skipped, TextFile
from bot.attachments.notes import display_name, note

CONTEXT_MAX_CHARS = 32_000
"""The most attached-file text sent in one message's ``context``."""


def greenflash_content(text: str, batch: AttachmentBatch) -> str:
    """What the person wrote, then a note per attachment, one a line."""
    notes = [note(item) for item in batch.items]
    return "\n".join([text, *notes] if text else notes)


def greenflash_context(batch: AttachmentBatch, max_chars: int = CONTEXT_MAX_CHARS) -> str | None:
    """Each text file the model read, under its note, cut to ``max_chars`` in all."""
    files = batch.files
    if not files:
        return None
    context = "\n\n".join(f"{note(file)}\n{file.text}" for file in files)
    return context[:max_chars]


def _described(item: ImageInput | TextFile | Skipped) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": display_name(item.name),
        "type": str(item.kind),
        "size": item.size,
        "seen_by_model": not isinstance(item, Skipped),
    }
    if isinstance(item, ImageInput):
        described["mime"] = item.mime
    if isinstance(item, TextFile):
        described["truncated"] = item.truncated
    if isinstance(item, Skipped):
        described["skipped"] = item.reason.name.lower()
    return described


def attachment_properties(batch: AttachmentBatch) -> dict[str, Any]:
    """Message-level properties: counts to segment on, and one entry per attachment."""
    if not batch:
        return {}
    return {
        "attachments": [_described(item) for item in batch.items],
        "attachment_count": len(batch.items),
        "images_seen": len(batch.images),
        "files_read": len(batch.files),
        "attachments_skipped": len(batch.skipped),
    }
