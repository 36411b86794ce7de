"""What the model gets for a question with attachments (OpenAI chat completions format).

A user turn's *text* carries the question, a note per attachment and each text file's
contents in a fenced block; that text is what the conversation memory keeps, so attached
files count against ``CONTEXT_MAX_CHARS`` like any message, and an image stays in the
context as its ``[image: name]`` note. The image itself is an extra ``image_url`` part, sent
inline as a base64 data URL (Discord's CDN links are signed and expire), only with the turn
it belongs to. The chat completions reference defines the parts:
``{"type": "text", "text": ...}`` and
``{"type": "image_url", "image_url": {"url": ..., "detail": "auto" | "low" | "high"}}``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from bot.attachments.kinds import AttachmentBatch, ImageInput, TextFile
from bot.attachments.notes import note

Detail = Literal["auto", "low", "high"]

_BACKTICKS = re.compile(r"`+")

NO_TEXT_QUESTION = "What do you make of this?"
"""The question a message with attachments and no text asks."""


def fence_for(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``, so a file that itself
    contains ``` cannot end its block early."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def file_block(file: TextFile) -> str:
    fence = fence_for(file.text)
    return f"{note(file)}\n{fence}\n{file.text}\n{fence}"


def turn_text(text: str, batch: AttachmentBatch) -> str:
    """The question, then every attachment in order: a note, and a text file's contents.
    Attachments without text ask :data:`NO_TEXT_QUESTION`."""
    pieces = [text or (NO_TEXT_QUESTION if batch else "")]
    for item in batch.items:
        pieces.append(file_block(item) if isinstance(item, TextFile) else note(item))
    return "\n".join(pieces)


def image_part(image: ImageInput, detail: Detail = "auto") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image.data_url(), "detail": detail}}


def message_content(
    text: str, images: Sequence[ImageInput], detail: Detail = "auto"
) -> str | list[dict[str, Any]]:
    """A plain string when there are no images (what every model accepts), else a text part
    followed by one image part per image."""
    if not images:
        return text
    return [{"type": "text", "text": text}, *(image_part(image, detail) for image in images)]


_IMAGE_ERROR_CODES = frozenset({
    "invalid_image", "invalid_image_format", "invalid_image_url", "sanitizer_server_error",
})


def rejects_images(error_body: object) -> bool:
    """Whether an OpenAI 400 body (``BadRequestError.body``, with or without its ``"error"``
    wrapper) refuses the request's images, so the question is worth asking once more without
    them: a model without vision ("Invalid content type. image_url is only supported by
    certain models."), or an image it could not use (codes ``invalid_image``,
    ``invalid_image_format``, ``invalid_image_url``, ``sanitizer_server_error``, or a param
    pointing into an ``image_url``)."""
    if not isinstance(error_body, dict):
        return False
    inner = error_body.get("error", error_body)
    if not isinstance(inner, dict):
        return False
    message, code, param = (str(inner.get(key) or "") for key in ("message", "code", "param"))
    return (
        "image_url is only supported by certain models" in message
        or code in _IMAGE_ERROR_CODES
        or ".image_url" in param
    )
