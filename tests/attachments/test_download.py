"""Downloading attachments from the Discord CDN stand-in over real sockets: caps, time limit,
host allowlist, and what each kind of file becomes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import discord
import pytest_asyncio

from bot.attachments.config import AttachmentSettings
from bot.attachments.download import AttachmentFetcher, Origin
from bot.attachments.gif import first_frame
from bot.attachments.kinds import (
    AttachmentBatch,
    AttachmentRef,
    ImageInput,
    Kind,
    Skipped,
    SkipReason,
    TextFile,
)
from bot.attachments.sniffing import text_byte_limit
from tests.attachments.test_sniffing import JPEG, PNG, frame, gif
from tests.helpers import until
from tests.standins.discord_cdn import DiscordCdnStandIn, Served

CHANNEL = 4242
SETTINGS = AttachmentSettings(max_bytes=1024 * 1024, max_images=2, text_max_chars=2_000,
                              timeout=2.0)


@pytest_asyncio.fixture
async def cdn() -> AsyncIterator[DiscordCdnStandIn]:
    async with DiscordCdnStandIn() as standin:
        yield standin


@pytest_asyncio.fixture
async def fetcher(cdn: DiscordCdnStandIn) -> AsyncIterator[AttachmentFetcher]:
    fetcher = AttachmentFetcher(SETTINGS, origins={Origin("http", "127.0.0.1", cdn.port)})
    yield fetcher
    await fetcher.close()


def as_ref(attachment: dict[str, Any]) -> AttachmentRef:
    """What ``AttachmentRef.of(discord.Attachment(...))`` gives for this payload."""
    return AttachmentRef(
        id=int(attachment["id"]), filename=attachment["filename"], size=attachment["size"],
        url=attachment["url"], proxy_url=attachment["proxy_url"],
        content_type=attachment["content_type"],
    )


async def fetch(
    fetcher: AttachmentFetcher, *attachments: dict[str, Any], vision: bool = True,
    earlier: bool = False,
) -> AttachmentBatch:
    return await fetcher.fetch([as_ref(a) for a in attachments], vision=vision, earlier=earlier)


async def finished(entry: Served) -> Served:
    return await until(lambda: entry if entry.finished or entry.aborted else None,
                       "the CDN to finish or lose the request")


async def test_a_screenshot_becomes_an_image_with_the_attached_bytes(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    shot = cdn.cdn.host(CHANNEL, "screenshot.png", PNG + b"pixels", "image/png")
    batch = await fetch(fetcher, shot)
    assert batch.items == (ImageInput(PNG + b"pixels", "image/png", "screenshot.png"),)


def test_discord_py_attachments_reduce_to_the_same_reference() -> None:
    payload = {"id": "77", "filename": "a.png", "size": 3, "url": "https://cdn.discordapp.com/"
               "attachments/1/77/a.png", "proxy_url": "https://media.discordapp.net/"
               "attachments/1/77/a.png", "content_type": "image/png"}
    state = SimpleNamespace(http=None)
    attachment = discord.Attachment(data=payload, state=state)  # type: ignore[arg-type]
    assert AttachmentRef.of(attachment) == as_ref(payload)


async def test_the_bytes_decide_the_image_type_not_discords_content_type(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    mislabelled = cdn.cdn.host(CHANNEL, "photo.jpg", PNG, "image/jpeg")
    assert (await fetch(fetcher, mislabelled)).images[0].mime == "image/png"


async def test_a_log_file_is_read_as_utf8_with_its_name(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    text = "2026-12-01 ERROR boom ünïcode\r\nTraceback: ...\r\n"
    log = cdn.cdn.host(CHANNEL, "app.log", text.encode(), "text/plain; charset=utf-8")
    batch = await fetch(fetcher, log)
    assert batch.items == (TextFile("app.log", text.replace("\r\n", "\n"), False,
                                    len(text.encode())),)


async def test_a_long_log_is_cut_at_the_cap_without_downloading_all_of_it(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    line = b"INFO all is well\n"
    big = cdn.cdn.host(CHANNEL, "huge.log", line * 60_000, "text/plain")
    [item] = (await fetch(fetcher, big)).items
    assert isinstance(item, TextFile)
    assert item.truncated
    assert len(item.text) == SETTINGS.text_max_chars
    assert fetcher.bytes_read <= text_byte_limit(SETTINGS.text_max_chars, SETTINGS.max_bytes)


async def test_a_pdf_is_skipped_without_being_downloaded(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    pdf = cdn.cdn.host(CHANNEL, "report.pdf", b"%PDF-1.7\n" + bytes(100), "application/pdf")
    log = cdn.cdn.host(CHANNEL, "app.log", b"ok\n", "text/plain")
    batch = await fetch(fetcher, pdf, log)
    assert batch.items[0] == Skipped("report.pdf", Kind.BINARY, 109, SkipReason.UNREADABLE)
    assert isinstance(batch.items[1], TextFile)
    assert cdn.cdn.served_for(log) and not cdn.cdn.served_for(pdf)


async def test_binary_bytes_behind_a_text_name_are_not_read_as_text(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    disguised = cdn.cdn.host(CHANNEL, "notes.txt", b"PK\x03\x04\0\0" + bytes(64), "text/plain")
    assert (await fetch(fetcher, disguised)).items == (
        Skipped("notes.txt", Kind.BINARY, 70, SkipReason.UNREADABLE),
    )


async def test_an_animated_gif_reaches_the_model_as_its_first_frame(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    frames = [frame(bytes([n]) * 50, local_table=True) for n in range(3)]
    animated = gif(frames, global_table=True, loop=True)
    hosted = cdn.cdn.host(CHANNEL, "dance.gif", animated, "image/gif")
    [image] = (await fetch(fetcher, hosted)).images
    assert image.data == first_frame(animated)
    assert image.data.count(b"\x2c\0\0\0\0") == 1


async def test_an_image_declared_over_the_cap_is_never_requested(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    big = cdn.cdn.host(CHANNEL, "big.png", PNG, "image/png", size=SETTINGS.max_bytes + 1)
    small = cdn.cdn.host(CHANNEL, "small.png", PNG, "image/png")
    batch = await fetch(fetcher, big, small)
    assert batch.items[0] == Skipped("big.png", Kind.IMAGE, SETTINGS.max_bytes + 1,
                                     SkipReason.TOO_LARGE)
    assert cdn.cdn.served_for(small) and not cdn.cdn.served_for(big)


async def test_a_content_length_over_the_cap_ends_the_download_before_the_body(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    body = SETTINGS.max_bytes * 8
    lying = cdn.cdn.host(CHANNEL, "shot.png", PNG, "image/png", size=len(PNG), body_size=body)
    assert (await fetch(fetcher, lying)).items[0].reason is SkipReason.TOO_LARGE  # type: ignore[union-attr]
    assert fetcher.bytes_read == 0
    entry = await finished(cdn.cdn.served_for(lying)[0])
    assert entry.aborted and entry.bytes_written < body


async def test_an_oversized_body_is_not_read_past_the_cap_whatever_discord_claims(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    """Discord's ``size`` claims a small file and no ``Content-Length`` is sent (chunked);
    the body is 64 times the cap. The reader stops at the cap, and the server cannot send
    more than a few socket buffers' worth before the connection is gone."""
    body = SETTINGS.max_bytes * 64
    hosted = cdn.cdn.host(CHANNEL, "shot.png", PNG, "image/png", size=1000, body_size=body,
                          length="chunked")
    [item] = (await fetch(fetcher, hosted)).items
    assert item == Skipped("shot.png", Kind.IMAGE, 1000, SkipReason.TOO_LARGE)
    assert fetcher.bytes_read <= SETTINGS.max_bytes
    entry = await finished(cdn.cdn.served_for(hosted)[0])
    assert entry.aborted
    assert entry.bytes_written < body // 4


async def test_a_slow_download_is_cut_off_by_the_timeout(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    """One kilobyte every half second: the whole body would take about 50 s."""
    slow = cdn.cdn.host(CHANNEL, "slow.png", PNG + bytes(100_000), "image/png", drip=0.5,
                        chunk=1024)
    quick = cdn.cdn.host(CHANNEL, "quick.png", JPEG, "image/jpeg")
    batch = await fetch(fetcher, slow, quick)
    assert batch.items[0] == Skipped("slow.png", Kind.IMAGE, slow["size"], SkipReason.TIMED_OUT)
    assert batch.items[1] == ImageInput(JPEG, "image/jpeg", "quick.png")
    entry = await finished(cdn.cdn.served_for(slow)[0])
    assert entry.aborted and entry.bytes_written < slow["size"]


async def test_a_url_outside_the_allowlist_is_never_fetched(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    """Another server on 127.0.0.1 (a different port: a different origin) hosts the same
    file; the good attachment in the same batch shows requests were being made."""
    async with DiscordCdnStandIn() as elsewhere:
        foreign = elsewhere.cdn.host(CHANNEL, "a.png", PNG, "image/png")
        good = cdn.cdn.host(CHANNEL, "b.png", PNG, "image/png")
        batch = await fetch(fetcher, foreign, good)
        assert batch.items[0] == Skipped("a.png", Kind.IMAGE, len(PNG), SkipReason.NOT_DISCORD)
        assert isinstance(batch.items[1], ImageInput)
        assert cdn.cdn.served_for(good)
        assert elsewhere.cdn.served == []


async def test_the_url_is_fetched_exactly_as_signed(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    hosted = cdn.cdn.host(CHANNEL, "a.png", PNG, "image/png")
    tampered = replace(as_ref(hosted), url=hosted["url"].replace("hm=", "hm=0"), proxy_url="")
    batch = await fetcher.fetch([tampered, as_ref(hosted)], vision=True)
    assert [getattr(item, "reason", None) for item in batch.items] == [
        SkipReason.DOWNLOAD_FAILED, None
    ]
    assert [entry.status for entry in cdn.cdn.served_for(hosted)] == [403, 200]


async def test_images_past_the_limit_are_named_not_downloaded(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    shots = [cdn.cdn.host(CHANNEL, f"{n}.png", PNG, "image/png") for n in range(5)]
    batch = await fetch(fetcher, *shots)
    assert [item.name for item in batch.images] == ["0.png", "1.png"]
    assert [item.reason for item in batch.skipped] == [SkipReason.TOO_MANY_IMAGES] * 3
    assert sum(bool(cdn.cdn.served_for(shot)) for shot in shots) == SETTINGS.max_images


async def test_an_image_that_only_its_bytes_reveal_counts_against_the_limit(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    named = [cdn.cdn.host(CHANNEL, f"{n}.png", PNG, "image/png") for n in range(2)]
    unnamed = cdn.cdn.host(CHANNEL, "blob", PNG, None)
    batch = await fetch(fetcher, *named, unnamed)
    assert len(batch.images) == SETTINGS.max_images
    assert batch.items[2] == Skipped("blob", Kind.IMAGE, len(PNG), SkipReason.TOO_MANY_IMAGES)


async def test_without_vision_images_are_not_downloaded(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    shot = cdn.cdn.host(CHANNEL, "shot.png", PNG, "image/png")
    log = cdn.cdn.host(CHANNEL, "app.log", b"boom\n", "text/plain")
    batch = await fetch(fetcher, shot, log, vision=False)
    assert batch.items[0] == Skipped("shot.png", Kind.IMAGE, len(PNG), SkipReason.NO_VISION)
    assert batch.files[0].text == "boom\n"
    assert cdn.cdn.served_for(log) and not cdn.cdn.served_for(shot)


async def test_earlier_messages_keep_their_files_and_name_their_images(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    shot = cdn.cdn.host(CHANNEL, "shot.png", PNG, "image/png")
    unnamed = cdn.cdn.host(CHANNEL, "blob", PNG, None)
    log = cdn.cdn.host(CHANNEL, "app.log", b"boom\n", "text/plain")
    batch = await fetch(fetcher, shot, unnamed, log, earlier=True)
    assert [getattr(item, "reason", None) for item in batch.items] == [
        SkipReason.EARLIER, SkipReason.EARLIER, None
    ]
    assert not cdn.cdn.served_for(shot)


async def test_a_stopped_cdn_is_a_failed_download_not_an_error(
    fetcher: AttachmentFetcher, cdn: DiscordCdnStandIn
) -> None:
    shot = cdn.cdn.host(CHANNEL, "shot.png", PNG, "image/png")
    await cdn.stop()
    assert (await fetch(fetcher, shot)).items[0].reason is SkipReason.DOWNLOAD_FAILED  # type: ignore[union-attr]


async def test_the_cap_is_inclusive_even_without_a_content_length(
    cdn: DiscordCdnStandIn, fetcher: AttachmentFetcher
) -> None:
    cap = SETTINGS.max_bytes
    sizes = (cap, cap + 1)
    hosted = [cdn.cdn.host(CHANNEL, f"{n}.png", PNG + bytes(n - len(PNG)), "image/png",
                           size=10, length="chunked") for n in sizes]
    batch = await fetch(fetcher, *hosted)
    assert isinstance(batch.items[0], ImageInput) and batch.items[0].size == cap
    assert batch.items[1] == Skipped(f"{cap + 1}.png", Kind.IMAGE, 10, SkipReason.TOO_LARGE)
    assert fetcher.bytes_read == 2 * cap
