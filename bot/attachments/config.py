"""Attachment settings, read from the environment with the bot's :class:`EnvReader`.

:class:`bot.config.settings.Settings` holds them as ``attachments`` and reads them in its own
``from_env``, so their problems join the one start-up line. The
bounds come from the services: Discord's default upload limit is 10 MiB, and OpenAI's vision
guide ("Image input requirements") allows up to 20 MB an image and 50 MB of image bytes in
one request, so ``ATTACHMENT_MAX_BYTES`` may not exceed the first, nor
``ATTACHMENT_MAX_IMAGES`` times ``ATTACHMENT_MAX_BYTES`` the second.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config.settings import EnvReader

OPENAI_IMAGE_BYTES_PER_REQUEST = 50_000_000
OPENAI_IMAGE_BYTES = 20 * 1024 * 1024
"""OpenAI's limit per image (the vision guide's 20 MB; its 400 says "below 20 MB")."""
DISCORD_MESSAGE_ATTACHMENTS = 10
"""Discord's own limit of files on one message (the Create Message docs, ``files[n]``)."""


class VisionMode(enum.StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


_SEES_IMAGES = re.compile(
    r"(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-4-turbo|gpt-5|o1|o3|o4-mini)"
    r"([-.:].*)?"
)
_TEXT_ONLY = re.compile(
    r"(o1-mini|o1-preview|o3-mini|gpt-4o(-mini)?-(audio|realtime|transcribe|tts)).*"
)


def model_sees_images(model: str) -> bool:
    """``VISION=auto``: OpenAI's models page lists image input for the GPT-4o, GPT-4.1,
    GPT-4.5, GPT-4 Turbo and GPT-5 families and for o1, o3 and o4-mini; not for GPT-3.5,
    the original GPT-4, o1-mini, o1-preview, o3-mini or the audio/realtime models. Any other
    name (a local model behind ``OPENAI_BASE_URL``) is treated as text-only: set
    ``VISION=on`` for it."""
    name = model.strip().lower().removeprefix("openai/")
    if _TEXT_ONLY.fullmatch(name):
        return False
    return bool(_SEES_IMAGES.fullmatch(name))


@dataclass(frozen=True)
class AttachmentSettings:
    max_bytes: int = 8 * 1024 * 1024
    max_images: int = 4
    text_max_chars: int = 8_000
    timeout: float = 10.0
    vision: VisionMode = VisionMode.AUTO

    def vision_for(self, model: str) -> bool:
        if self.vision is VisionMode.AUTO:
            return model_sees_images(model)
        return self.vision is VisionMode.ON

    @classmethod
    def from_env(cls, reader: EnvReader) -> AttachmentSettings:
        """Problems are added to ``reader``, so start-up reports them with the others."""
        raw_vision = reader.text("VISION", cls.vision).lower()
        if raw_vision not in set(VisionMode):
            reader.problems.append(f"VISION must be auto, on or off (got {raw_vision!r})")
            raw_vision = cls.vision
        settings = cls(
            max_bytes=reader.integer("ATTACHMENT_MAX_BYTES", cls.max_bytes, minimum=1024),
            max_images=reader.integer("ATTACHMENT_MAX_IMAGES", cls.max_images),
            text_max_chars=reader.integer(
                "ATTACHMENT_TEXT_MAX_CHARS", cls.text_max_chars, minimum=100
            ),
            timeout=reader.number("ATTACHMENT_TIMEOUT", cls.timeout, minimum=1.0),
            vision=VisionMode(raw_vision),
        )
        if settings.max_images > DISCORD_MESSAGE_ATTACHMENTS * 2:
            reader.problems.append(
                f"ATTACHMENT_MAX_IMAGES must be at most {DISCORD_MESSAGE_ATTACHMENTS * 2} "
                f"(a question and the message it replies to; got {settings.max_images})"
            )
        if settings.max_bytes > OPENAI_IMAGE_BYTES:
            reader.problems.append(
                f"ATTACHMENT_MAX_BYTES must be at most {OPENAI_IMAGE_BYTES} (OpenAI's limit per "
                f"image; got {settings.max_bytes})"
            )
        if settings.max_images * settings.max_bytes > OPENAI_IMAGE_BYTES_PER_REQUEST:
            reader.problems.append(
                "ATTACHMENT_MAX_IMAGES x ATTACHMENT_MAX_BYTES must be at most "
                f"{OPENAI_IMAGE_BYTES_PER_REQUEST} (OpenAI's image bytes per request; got "
                f"{settings.max_images * settings.max_bytes})"
            )
        return settings
