"""Split model output into Discord-sized messages without breaking code fences.

Discord rejects messages over 2 000 characters. A naive split can cut a code block in two,
after which the rest of the reply renders as code and the start of the next message does
not. Here a chunk that ends inside a fence closes it, and the next chunk reopens it with the
same language tag.

The split is greedy from the start of the text, so a chunk's content depends only on the
text before its end plus one window. That lets the streaming writer treat every chunk but
the last as final while the text is still growing.
"""

from __future__ import annotations

DISCORD_LIMIT = 2000
FENCE = "```"
_CLOSE = "\n" + FENCE


def _fence_after(text: str, fence: str | None) -> str | None:
    """The fence line still open after ``text``, given the one open before it."""
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped.startswith(FENCE):
            continue
        if fence is None:
            inline = len(stripped) > 2 * len(FENCE) and stripped.endswith(FENCE)
            fence = None if inline else stripped
        elif stripped == FENCE:
            fence = None
    return fence


def _cut_point(window: str) -> tuple[int, int]:
    """Where to cut a window: (end of this chunk, start of the next), preferring lines."""
    newline = window.rfind("\n")
    if newline > len(window) // 4:
        return newline, newline + 1
    space = window.rfind(" ")
    if space > len(window) // 4:
        return space, space + 1
    return len(window), len(window)


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters with balanced fences."""
    chunks: list[str] = []
    fence: str | None = None
    remaining = text
    while remaining:
        prefix = f"{fence}\n" if fence else ""
        budget = limit - len(prefix)
        if len(remaining) <= budget:
            chunks.append(prefix + remaining)
            break
        end, resume = _cut_point(remaining[: budget - len(_CLOSE)])
        piece = remaining[:end]
        fence_after = _fence_after(piece, fence)
        chunks.append(prefix + piece + (_CLOSE if fence_after else ""))
        fence = fence_after
        remaining = remaining[resume:]
    return [chunk for chunk in chunks if chunk.strip()]


def close_open_fence(text: str) -> str:
    """Close a fence left open mid-stream, so a partial reply renders as it will at the end."""
    return text + _CLOSE if _fence_after(text, None) else text
