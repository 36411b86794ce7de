"""A soak under Discord's limits: does the bot run for half an hour without wedging?

Run: ``python -m tests.benchmarks.bench_soak [--minutes 30] [--conversations 50]``.

One bot process, analytics on, against the Discord stand-in with its rate limits (global
50/s; per channel messages, edits and typing 5 per 5 s, deletes 5 per 1 s, reactions 1 per
0.25 s). ``--conversations`` members talk in as many chat channels at once, each sending
its next message once the last one is answered and no sooner than ``--pace`` seconds after
it was sent. The model streams a reply of about 600 characters over three seconds, after
``--model-latency`` seconds, so the bot does everything it does in production: a typing
indicator when the first words are late, edits paced by its own ``edit_interval``, and
its Greenflash calls.

Reported, every minute and at the end: replies a second; invalid answers (401/403/429)
from Discord, the most in any 10-minute window and per 10 minutes at the run's rate,
against Discord's ban threshold of 10 000 (target: under 5 000); the longest event-loop
stall the bot's watchdog measured; resident memory of the bot and of this process (the
three stand-ins); Greenflash sent/failed/dropped. Target: zero stalls over the watchdog's
threshold, invalid requests under 5 000 per 10 minutes, nothing dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import time
from collections import Counter
from typing import Any

from bot.runtime.request_budget import route_of
from tests.benchmarks.bench_memory import settled
from tests.benchmarks.harness import Bench, Child, bench, table
from tests.benchmarks.process_stats import snapshot
from tests.standins.discord_rest import RecordedRequest

TEN_MINUTES = 600.0
DISCORD_BAN_THRESHOLD = 10_000
TARGET = DISCORD_BAN_THRESHOLD // 2
ANSWER = ("Here is a considered answer with a few sentences in it. " * 11).strip()


def invalid_times(requests: list[RecordedRequest], start: int) -> list[float]:
    return [r.received_at for r in requests[start:] if r.status in (401, 403, 429)]


def most_in_window(times: list[float], window: float = TEN_MINUTES) -> int:
    """The most of ``times`` (sorted) within any ``window`` seconds."""
    return max((bisect.bisect_right(times, t + window) - i for i, t in enumerate(times)),
               default=0)


async def conversations(run: Bench, count: int, pace: float, until: float) -> list[float]:
    """Each conversation asks, waits for the first words, then waits out ``pace``; returns
    the moments replies started (``time.perf_counter()``)."""
    answered: list[float] = []

    async def conversation(channel: int) -> None:
        while time.perf_counter() < until:
            sent, first = await run.ask(channel)
            answered.append(first)
            await asyncio.sleep(max(0.0, pace - (time.perf_counter() - sent)))

    await asyncio.gather(*(conversation(channel) for channel in range(count)))
    return answered


def row(label: str, elapsed: float, replies: int, invalid: list[float],
        bot: dict[str, Any]) -> list[object]:
    stands = snapshot(dict)
    return [label, f"{replies / elapsed:.1f}", len(invalid), most_in_window(invalid),
            bot["budget_in_window"], f"{bot['longest_stall_s']:.3f}", bot["stalls"],
            f"{bot['rss_mb']:.0f}", f"{stands['rss_mb']:.0f}", bot["sent"], bot["failed"],
            bot["dropped"]]


HEADERS = ["", "replies/s", "invalid", "max/10min", "bot's count", "longest stall s",
           "stalls", "bot RSS MB", "stand-ins RSS MB", "GF sent", "GF failed", "GF dropped"]


async def main(minutes: float, count: int, pace: float, model_latency: float) -> None:
    async with bench(channels=count, rate_limits=True) as run:
        openai = run.stands.openai
        openai.reply_with(lambda body: ANSWER)
        openai.chunk_size = 20
        openai.chunk_delay = 3.0 / (len(ANSWER) / 20)
        openai.latency = model_latency
        child = await Child.start("bot_process", run.env(), run.stands.discord)
        requests = run.stands.discord.requests
        first_request = len(requests)
        started = time.perf_counter()
        until = started + minutes * 60
        talk = asyncio.create_task(conversations(run, count, pace, until))
        rows: list[list[object]] = []
        try:
            while not talk.done():
                await asyncio.wait([talk], timeout=60)
                if talk.done():
                    break
                elapsed = time.perf_counter() - started
                stats = await child.stats()
                rows.append(row(f"{elapsed / 60:.1f} min", elapsed, len(run.replies.first_at),
                                invalid_times(requests, first_request), stats))
                print(table(HEADERS, rows[-1:]), flush=True)
            answered = await talk
            elapsed = time.perf_counter() - started
            final = await settled(child)
        finally:
            code = await child.stop()
    invalid = invalid_times(requests, first_request)
    rows.append(row("end", elapsed, len(answered), invalid, final))
    print()
    print(table(HEADERS, rows))
    per_ten = len(invalid) / elapsed * TEN_MINUTES
    print(f"\n{len(answered)} replies in {elapsed / 60:.1f} min over {count} conversations "
          f"({len(answered) / elapsed:.1f}/s); Discord requests: {len(requests) - first_request}")
    print(f"invalid answers (401/403/429): {len(invalid)}, most in any 10 minutes "
          f"{most_in_window(invalid)}, {per_ten:.0f} per 10 minutes at this rate "
          f"(target under {TARGET}; Discord bans at {DISCORD_BAN_THRESHOLD})")
    refused = Counter(route_of(r.method, r.path) for r in requests[first_request:]
                      if r.status == 429)
    print("429s by route: " + ", ".join(f"{route} {n}" for route, n in refused.most_common(6)))
    print(f"longest event-loop stall: {final['longest_stall_s']:.3f} s; stalls over the "
          f"watchdog's threshold: {final['stalls']}; bot exit code {code}")
    print(f"Greenflash: sent {final['sent']}, failed {final['failed']}, "
          f"dropped {final['dropped']}, pending {final['greenflash_pending']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--pace", type=float, default=5.0,
                        help="seconds between one conversation's messages, at least")
    parser.add_argument("--model-latency", type=float, default=0.8,
                        help="seconds before the model's first words")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.minutes, arguments.conversations, arguments.pace,
                     arguments.model_latency))
