"""The short notes that name attachments: ``[image: screenshot.png]``, ``[file: app.log, 12 kB]``.

The same note names an attachment to the model, to Greenflash and in the context after the
image itself is gone, so a conversation reads the same whichever side looks at it. File
names come from users: control characters are removed and the name is bounded, so a note is
always one short line.
"""

from __future__ import annotations

import unicodedata

from bot.attachments.kinds import (
    AttachmentBatch,
    Fetched,
    ImageInput,
    Kind,
    Skipped,
    SkipReason,
    TextFile,
)

NAME_MAX_CHARS = 100


def display_name(name: str) -> str:
    """``name`` without control characters (newlines included), at most 100 characters."""
    clean = "".join(
        char for char in name[: NAME_MAX_CHARS * 4]
        if unicodedata.category(char)[0] != "C"
    ).strip()
    clean = clean[:NAME_MAX_CHARS] or "unnamed"
    return clean.replace("[", "(").replace("]", ")")


def human_size(size: int) -> str:
    """Decimal units, as the issue's ``12 kB`` example: ``512 B``, ``12 kB``, ``3.4 MB``."""
    if size < 1000:
        return f"{max(size, 0)} B"
    if size < 1_000_000:
        return f"{round(size / 1000)} kB"
    return f"{size / 1_000_000:.1f} MB"


def note(item: Fetched) -> str:
    """One bracketed line naming the attachment, and why the model did not get it."""
    name = display_name(item.name)
    match item:
        case ImageInput():
            return f"[image: {name}]"
        case TextFile(truncated=True):
            return f"[file: {name}, {human_size(item.size)}, truncated]"
        case TextFile():
            return f"[file: {name}, {human_size(item.size)}]"
        case Skipped(kind=Kind.IMAGE, reason=SkipReason.EARLIER):
            return f"[image: {name}]"
        case Skipped(kind=Kind.IMAGE):
            return f"[image: {name}, not seen: {item.reason}]"
        case _:
            return f"[file: {name}, {human_size(item.size)}, not read: {item.reason}]"


_LINE_NAMES = 3


def skipped_line(batch: AttachmentBatch) -> str | None:
    """The one short line a reply ends with when the model did not get some attachments,
    naming at most three of them; None when it got everything."""
    skipped = [item for item in batch.skipped if item.reason is not SkipReason.EARLIER]
    if not skipped:
        return None
    if all(item.kind is Kind.IMAGE and item.reason is SkipReason.NO_VISION for item in skipped):
        return "I couldn't look at the image, so I answered from the text." if len(
            skipped) == 1 else "I couldn't look at the images, so I answered from the text."
    named = ", ".join(
        f"{display_name(item.name)} ({item.reason})" for item in skipped[:_LINE_NAMES]
    )
    more = len(skipped) - _LINE_NAMES
    return f"I couldn't read {named}" + (f" and {more} more." if more > 0 else ".")
