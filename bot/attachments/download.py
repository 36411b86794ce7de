"""The only code that fetches attachment bytes: Discord's CDN, a byte cap, a time limit.

Rules, each enforced here and nowhere else:

* **Only Discord's attachment URLs.** A URL is fetched only when its scheme, host and port
  are in ``origins`` (by default ``https://cdn.discordapp.com`` and
  ``https://media.discordapp.net``, the hosts of the Attachment Object's ``url`` and
  ``proxy_url``), it has no user info, and its path is an attachment path. The URLs come
  from the attachment objects alone, never from message text or embeds, and redirects are
  not followed, so the bot cannot be steered to another host (no request forgery). Tests
  pass their stand-in's origin explicitly; nothing here allows localhost by default.
* **Never more bytes than the cap.** The body is read in chunks with
  ``StreamReader.read(n)``, never past ``limit`` bytes, whatever ``Content-Length`` or the
  attachment's ``size`` claim; an image whose ``Content-Length`` is over the cap is refused
  before its body is read. Compressed transfer is refused (``Accept-Encoding: identity``,
  no automatic decompression), so the cap counts the bytes that arrive.
* **Bounded time.** Every download runs under ``asyncio.timeout(timeout)``, connecting
  included; the attachments of one question download concurrently, so a question waits at
  most about ``timeout`` seconds for all of them.

discord.py's ``Attachment.read()`` is not used: ``HTTPClient.get_from_cdn`` reads the whole
body with ``response.read()`` and no cap, and its session is private to discord.py. This
module owns a small aiohttp session of its own (opened lazily inside the running loop,
closed by :meth:`AttachmentFetcher.close`) and never sends the bot token to the CDN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiohttp
import yarl

from bot.attachments.config import AttachmentSettings
from bot.attachments.gif import first_frame
from bot.attachments.kinds import (
    AttachmentBatch,
    AttachmentRef,
    Fetched,
    ImageInput,
    Kind,
    Skipped,
    SkipReason,
    TextFile,
)
from bot.attachments.sniffing import (
    decode_text,
    expected_kind,
    looks_like_text,
    sniff_image,
    text_byte_limit,
)

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_ATTACHMENT_PATHS = ("/attachments/", "/ephemeral-attachments/")


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int


DISCORD_CDN_ORIGINS = frozenset({
    Origin("https", "cdn.discordapp.com", 443),
    Origin("https", "media.discordapp.net", 443),
})


def allowed_url(url: str, origins: Iterable[Origin] = DISCORD_CDN_ORIGINS) -> yarl.URL | None:
    """The parsed URL when it is a Discord attachment URL under ``origins``, else None.

    The parsed object is what gets fetched, so what was checked is what is requested.
    """
    try:
        parsed = yarl.URL(url)
        origin = Origin(parsed.scheme.lower(), (parsed.host or "").lower(), parsed.port or 0)
    except (ValueError, TypeError, UnicodeError):
        return None
    if not parsed.is_absolute() or parsed.user is not None or parsed.password is not None:
        return None
    if origin not in frozenset(origins) or not parsed.path.startswith(_ATTACHMENT_PATHS):
        return None
    return parsed


async def read_capped(content: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a body, and whether that was all of it."""
    buffer = bytearray()
    while len(buffer) < limit:
        chunk = await content.read(min(_CHUNK, limit - len(buffer)))
        if not chunk:
            return bytes(buffer), True
        buffer += chunk
    return bytes(buffer), content.at_eof()


class AttachmentFetcher:
    """Downloads attachments within the caps; one instance (one HTTP session) serves the
    whole bot, every question concurrently."""

    def __init__(
        self,
        settings: AttachmentSettings,
        *,
        origins: Iterable[Origin] = DISCORD_CDN_ORIGINS,
    ) -> None:
        self.settings = settings
        self.origins = frozenset(origins)
        self.bytes_read = 0
        """Body bytes consumed by every download so far (for logs, benchmarks and tests)."""
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                auto_decompress=False,
                headers={"Accept-Encoding": "identity"},
                connector=aiohttp.TCPConnector(limit=20),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        refs: Sequence[AttachmentRef],
        *,
        vision: bool,
        max_images: int | None = None,
        earlier: bool = False,
    ) -> AttachmentBatch:
        """One result per reference, in order. ``max_images`` (default: the setting) lets a
        caller share the image budget between a question and the message it replies to.
        ``earlier``: the attachments of a message from further back in the conversation
        (a history rebuild): text files are read, images are only named, not downloaded."""
        budget = self.settings.max_images if max_images is None else max_images
        vision = vision and not earlier
        planned: list[asyncio.Future[Fetched]] = []
        slots = budget
        for ref in refs:
            expected = expected_kind(ref)
            if expected is Kind.IMAGE and vision:
                if slots <= 0:
                    planned.append(_done(Skipped(ref.filename, Kind.IMAGE, ref.size,
                                                 SkipReason.TOO_MANY_IMAGES)))
                    continue
                slots -= 1
            planned.append(asyncio.ensure_future(self._one(ref, expected, vision=vision)))
        results = await asyncio.gather(*planned)
        if earlier:
            results = [_as_earlier(item) for item in results]
        return AttachmentBatch(_limit_images(results, budget))

    async def _one(self, ref: AttachmentRef, expected: Kind, *, vision: bool) -> Fetched:
        def skip(reason: SkipReason, kind: Kind = expected) -> Skipped:
            log.info(
                "attachment skipped: id=%s name=%r kind=%s size=%d reason=%s",
                ref.id, ref.filename, kind, ref.size, reason.name,
            )
            return Skipped(ref.filename, kind, ref.size, reason)

        if expected is Kind.BINARY:
            return skip(SkipReason.UNREADABLE)
        if expected is Kind.IMAGE and not vision:
            return skip(SkipReason.NO_VISION)
        url = self._cdn_url(ref)
        if url is None:
            log.warning("attachment %s has no Discord CDN URL; not fetched", ref.id)
            return skip(SkipReason.NOT_DISCORD)
        settings = self.settings
        whole = expected is not Kind.TEXT
        if whole and ref.size > settings.max_bytes:
            return skip(SkipReason.TOO_LARGE)
        limit = settings.max_bytes if whole else text_byte_limit(
            settings.text_max_chars, settings.max_bytes
        )
        downloaded = await self._download(url, limit, whole=whole)
        if isinstance(downloaded, SkipReason):
            return skip(downloaded)
        result = self._interpret(ref, *downloaded, vision=vision)
        if isinstance(result, Skipped):
            return skip(result.reason, result.kind)
        return result

    def _cdn_url(self, ref: AttachmentRef) -> yarl.URL | None:
        return next(
            (parsed for candidate in (ref.url, ref.proxy_url)
             if (parsed := allowed_url(candidate, self.origins)) is not None),
            None,
        )

    async def fetch_file(self, ref: AttachmentRef, max_bytes: int) -> bytes | SkipReason:
        """A whole file (a knowledge source), or why not: the same CDN-only, timed
        download, refused before a byte is read when Discord's ``size`` or the response's
        ``Content-Length`` is over ``max_bytes``, and cut off when the body runs past it."""
        url = self._cdn_url(ref)
        if url is None:
            return SkipReason.NOT_DISCORD
        if ref.size > max_bytes:
            return SkipReason.TOO_LARGE
        downloaded = await self._download(url, max_bytes + 1, whole=True)
        if isinstance(downloaded, SkipReason):
            return downloaded
        data, complete = downloaded
        return data if complete and len(data) <= max_bytes else SkipReason.TOO_LARGE

    def _interpret(
        self, ref: AttachmentRef, data: bytes, complete: bool, *, vision: bool
    ) -> Fetched:
        """What the downloaded bytes are; Discord's description no longer matters."""
        mime = sniff_image(data)
        if mime is not None:
            return _image(ref, data, mime, complete=complete, vision=vision)
        if looks_like_text(data, complete=complete):
            text, truncated = decode_text(data, self.settings.text_max_chars, complete=complete)
            return TextFile(ref.filename, text, truncated, max(ref.size, len(data)))
        return Skipped(ref.filename, Kind.BINARY, ref.size, SkipReason.UNREADABLE)

    async def _download(
        self, url: yarl.URL, limit: int, *, whole: bool
    ) -> tuple[bytes, bool] | SkipReason:
        """The body (at most ``limit`` bytes) and whether it is complete, or why not.

        ``whole``: the file is useless cut short (an image), so a ``Content-Length`` over
        the limit ends the download before any of the body is read.
        """
        session = self._open()
        try:
            async with asyncio.timeout(self.settings.timeout):
                async with session.get(url, allow_redirects=False) as response:
                    if response.status != 200:
                        log.warning("attachment download answered HTTP %d: %s",
                                    response.status, url.path)
                        return SkipReason.DOWNLOAD_FAILED
                    declared = response.content_length
                    if whole and declared is not None and declared > limit:
                        response.close()
                        return SkipReason.TOO_LARGE
                    data, complete = await read_capped(response.content, limit)
                    self.bytes_read += len(data)
                    if not complete:
                        response.close()
                    return data, complete
        except TimeoutError:
            log.warning("attachment download timed out after %.0fs: %s",
                        self.settings.timeout, url.path)
            return SkipReason.TIMED_OUT
        except aiohttp.ClientError as error:
            log.warning("attachment download failed: %s: %s", type(error).__name__, url.path)
            return SkipReason.DOWNLOAD_FAILED


def _image(
    ref: AttachmentRef, data: bytes, mime: str, *, complete: bool, vision: bool
) -> ImageInput | Skipped:
    def skipped(reason: SkipReason) -> Skipped:
        return Skipped(ref.filename, Kind.IMAGE, ref.size, reason)

    if not complete:
        return skipped(SkipReason.TOO_LARGE)
    if not vision:
        return skipped(SkipReason.NO_VISION)
    if mime == "image/gif":
        frame = first_frame(data)
        if frame is None:
            return skipped(SkipReason.UNREADABLE)
        data = frame
    return ImageInput(data, mime, ref.filename)


def _done(result: Fetched) -> asyncio.Future[Fetched]:
    future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
    future.set_result(result)
    return future


def _as_earlier(item: Fetched) -> Fetched:
    if isinstance(item, Skipped) and item.reason is SkipReason.NO_VISION:
        return Skipped(item.name, item.kind, item.size, SkipReason.EARLIER)
    return item


def _limit_images(results: Sequence[Fetched], budget: int) -> tuple[Fetched, ...]:
    """Images past the budget (ones that only turned out to be images once downloaded)
    become skipped, keeping the earliest."""
    kept: list[Fetched] = []
    for item in results:
        over = isinstance(item, ImageInput) and budget <= 0
        budget -= isinstance(item, ImageInput)
        kept.append(
            Skipped(item.name, Kind.IMAGE, item.size, SkipReason.TOO_MANY_IMAGES) if over
            else item
        )
    return tuple(kept)
