"""Attachment settings, read with the others at start-up so their problems join the one
start-up line (:mod:`bot.config.environment`). The
bounds come from the services: Discord's default upload limit is 10 MiB, and OpenAI's vision
guide ("Image input requirements") allows up to 20 MB an image and 50 MB of image bytes in
one request, so ``ATTACHMENT_MAX_BYTES`` may not exceed the first, nor
``ATTACHMENT_MAX_IMAGES`` times ``ATTACHMENT_MAX_BYTES`` the second.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.config.base import EnvSettings, one_of

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


class AttachmentSettings(EnvSettings):
    """How much of an attachment is read, and whether images go to the model."""

    max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=OPENAI_IMAGE_BYTES,
                           validation_alias="ATTACHMENT_MAX_BYTES")
    max_images: int = Field(default=4, ge=0, le=DISCORD_MESSAGE_ATTACHMENTS * 2,
                            validation_alias="ATTACHMENT_MAX_IMAGES")
    text_max_chars: int = Field(default=8_000, ge=100, validation_alias="ATTACHMENT_TEXT_MAX_CHARS")
    timeout: float = Field(default=10.0, ge=1.0, validation_alias="ATTACHMENT_TIMEOUT")
    vision: VisionMode = Field(default=VisionMode.AUTO, validation_alias="VISION")

    @field_validator("vision", mode="before")
    @classmethod
    def _vision(cls, raw: Any) -> Any:
        return one_of(raw, tuple(VisionMode))

    @model_validator(mode="after")
    def _fits_one_request(self) -> AttachmentSettings:
        if self.max_images * self.max_bytes > OPENAI_IMAGE_BYTES_PER_REQUEST:
            raise PydanticCustomError(
                "settings",
                "ATTACHMENT_MAX_IMAGES x ATTACHMENT_MAX_BYTES must be at most {limit} "
                "(OpenAI's image bytes per request; got {product})",
                {"limit": OPENAI_IMAGE_BYTES_PER_REQUEST,
                 "product": self.max_images * self.max_bytes},
            )
        return self

    def vision_for(self, model: str) -> bool:
        if self.vision is VisionMode.AUTO:
            return model_sees_images(model)
        return self.vision is VisionMode.ON
