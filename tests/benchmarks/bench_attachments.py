"""What the attachment downloader costs and how far its bounds hold, against the CDN stand-in.

Run: ``python -m tests.benchmarks.bench_attachments [--cap-mib 8] [--rounds 5]``.

Prints, for the default settings' cap:

* an honest image of the cap's size: seconds to download, sniff and base64-encode it, and
  the peak Python memory allocated meanwhile (``tracemalloc``);
* an image whose body is 16 times the cap behind a small ``size`` and no ``Content-Length``:
  bytes the client consumed and bytes the server managed to write before the connection
  was gone;
* a slow image (1 KiB every 0.2 s): seconds until the download gives up, against
  ``ATTACHMENT_TIMEOUT``;
* a 5 MB log: seconds to read it to the text cap, and the bytes consumed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from bot.attachments.config import AttachmentSettings
from bot.attachments.download import AttachmentFetcher, Origin
from bot.attachments.kinds import AttachmentRef
from tests.standins.discord_cdn import DiscordCdnStandIn

PNG = b"\x89PNG\r\n\x1a\n"


def as_ref(attachment: dict[str, Any]) -> AttachmentRef:
    return AttachmentRef(int(attachment["id"]), attachment["filename"], attachment["size"],
                         attachment["url"], attachment["proxy_url"], attachment["content_type"])


async def timed(rounds: int, run: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(cap_mib: int, rounds: int) -> None:
    settings = AttachmentSettings(max_bytes=cap_mib * 1024 * 1024, timeout=2.0)
    async with DiscordCdnStandIn() as cdn:
        fetcher = AttachmentFetcher(settings, origins={Origin("http", "127.0.0.1", cdn.port)})
        try:
            image = cdn.cdn.host(1, "cap.png", PNG + bytes(settings.max_bytes - len(PNG)),
                                 "image/png")

            async def encode_one() -> None:
                batch = await fetcher.fetch([as_ref(image)], vision=True)
                assert batch.images[0].data_url()

            seconds = await timed(rounds, encode_one)
            tracemalloc.start()
            await encode_one()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{cap_mib} MiB image: {seconds * 1000:.0f} ms median to fetch and encode; "
                  f"peak Python allocation {peak / 2**20:.1f} MiB")

            body = settings.max_bytes * 16
            huge = cdn.cdn.host(1, "huge.png", PNG, "image/png", size=1000, body_size=body,
                                length="chunked")
            before = fetcher.bytes_read
            await fetcher.fetch([as_ref(huge)], vision=True)
            entry = cdn.cdn.served_for(huge)[0]
            for _ in range(500):
                if entry.aborted or entry.finished:
                    break
                await asyncio.sleep(0.01)
            print(f"oversized body ({body / 2**20:.0f} MiB): client consumed "
                  f"{(fetcher.bytes_read - before) / 2**20:.2f} MiB, server wrote "
                  f"{entry.bytes_written / 2**20:.2f} MiB before the connection closed")

            slow = cdn.cdn.host(1, "slow.png", PNG + bytes(200_000), "image/png", drip=0.2,
                                chunk=1024)
            started = time.perf_counter()
            await fetcher.fetch([as_ref(slow)], vision=True)
            print(f"slow image: gave up after {time.perf_counter() - started:.2f} s "
                  f"(ATTACHMENT_TIMEOUT={settings.timeout:.0f} s)")

            log = cdn.cdn.host(1, "big.log", b"INFO all is well\n" * 300_000, "text/plain")
            before = fetcher.bytes_read
            seconds = await timed(rounds, lambda: fetcher.fetch([as_ref(log)], vision=True))
            consumed = (fetcher.bytes_read - before) / rounds
            print(f"5.1 MB log: {seconds * 1000:.1f} ms median to read to "
                  f"{settings.text_max_chars} characters; {consumed / 1000:.0f} kB consumed")
        finally:
            await fetcher.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cap-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cap_mib, arguments.rounds))
