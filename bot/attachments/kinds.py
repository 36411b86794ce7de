"""The plain values attachments become: nothing here knows Discord, OpenAI or Greenflash.

The receiving side reduces a ``discord.Attachment`` to an :class:`AttachmentRef` at the edge;
the downloader turns each reference into exactly one :class:`ImageInput`, :class:`TextFile`
or :class:`Skipped`, in the order they were attached, so every attachment is accounted for
in the model input, the notes and the analytics alike.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from typing import Protocol


class Kind(enum.StrEnum):
    """What an attachment is (or, before download, appears to be)."""

    IMAGE = "image"
    TEXT = "text"
    BINARY = "binary"
    UNKNOWN = "unknown"


class SkipReason(enum.StrEnum):
    """Why an attachment did not reach the model; the value is the user-facing phrase."""

    TOO_LARGE = "too large"
    UNREADABLE = "not a file type I can read"
    TOO_MANY_IMAGES = "over the image limit"
    NO_VISION = "this model can't see images"
    NOT_DISCORD = "not hosted on Discord"
    DOWNLOAD_FAILED = "couldn't be downloaded"
    TIMED_OUT = "took too long to download"
    EARLIER = "from earlier in the conversation"
    """Not an error: an image of an earlier message, which the model sees only by name."""


class DiscordAttachmentLike(Protocol):
    """The fields of ``discord.Attachment`` this package reads (the Discord docs' Attachment
    Object: ``id``, ``filename``, ``size``, ``url``, ``proxy_url``, ``content_type``)."""

    id: int
    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: str | None


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """An attachment as Discord describes it, before anything is downloaded.

    ``size`` and ``content_type`` are what Discord says; neither is trusted to decide what
    the bytes are, only to avoid downloading what can never be used.
    """

    id: int
    filename: str
    size: int
    url: str
    proxy_url: str = ""
    content_type: str | None = None

    @classmethod
    def of(cls, attachment: DiscordAttachmentLike) -> AttachmentRef:
        return cls(
            id=attachment.id,
            filename=attachment.filename,
            size=attachment.size,
            url=attachment.url,
            proxy_url=attachment.proxy_url,
            content_type=attachment.content_type,
        )


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An image the model will see; ``mime`` comes from the bytes' signature."""

    data: bytes
    mime: str
    name: str

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def kind(self) -> Kind:
        return Kind.IMAGE

    def data_url(self) -> str:
        """Inline, because Discord's CDN links are signed and expire."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def __repr__(self) -> str:
        return f"ImageInput(name={self.name!r}, mime={self.mime!r}, size={self.size})"


@dataclass(frozen=True, slots=True)
class TextFile:
    """A text attachment, decoded and capped; ``size`` is the file's size in bytes."""

    name: str
    text: str
    truncated: bool
    size: int

    @property
    def kind(self) -> Kind:
        return Kind.TEXT


@dataclass(frozen=True, slots=True)
class Skipped:
    """An attachment the model does not get, with the reason to tell the user."""

    name: str
    kind: Kind
    size: int
    reason: SkipReason


Fetched = ImageInput | TextFile | Skipped


@dataclass(frozen=True, slots=True)
class AttachmentBatch:
    """Every attachment of one question, in the order they were attached."""

    items: tuple[Fetched, ...] = ()

    @property
    def images(self) -> tuple[ImageInput, ...]:
        return tuple(item for item in self.items if isinstance(item, ImageInput))

    @property
    def files(self) -> tuple[TextFile, ...]:
        return tuple(item for item in self.items if isinstance(item, TextFile))

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return tuple(item for item in self.items if isinstance(item, Skipped))

    def without_images(self, reason: SkipReason) -> AttachmentBatch:
        """The batch a text-only model gets: each image becomes a skipped attachment."""
        return AttachmentBatch(tuple(
            Skipped(item.name, Kind.IMAGE, item.size, reason)
            if isinstance(item, ImageInput) else item
            for item in self.items
        ))

    def __bool__(self) -> bool:
        return bool(self.items)
