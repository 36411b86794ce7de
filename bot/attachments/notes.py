"""The short notes that name attachments: ``[image: screenshot.png]``, ``[file: app.log, 12 kB]``.

The same note names an attachment to the model, to Greenflash and in the context after the
image itself is gone, so a conversation reads the same whichever side looks at it. File
names come from users: control characters are removed and the name is bounded, so a note is
always one short line.
"""

from __future__ import annotations

import unicodedata

from bot.attachments.kinds import Fetched, ImageInput, Kind, Skipped, SkipReason, TextFile

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
