"""The parent side of the benchmarks: stand-ins, a 50-channel guild, measured children.

A benchmark builds a :class:`Bench` (the three stand-ins plus a guild of chat channels and
members), starts the bot or the echo baseline as a :class:`Child`, sends messages as those
members and reads reply times off the Discord stand-in's request log (:class:`Replies`),
so nothing is timed by polling.
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bot_harness import Stands, process_env
from tests.helpers import TEST_PRODUCT
from tests.standins.discord_server import ALICE_ID, DiscordStandIn, user_dict
from tests.standins.greenflash_server import GreenflashStandIn
from tests.standins.openai_server import OpenAIStandIn

Message = dict[str, Any]

#: Every benchmark message is answered by the model: the per-user cooldown is lifted.
NO_COOLDOWN = {"COOLDOWN_RATE": "1000000", "COOLDOWN_SECONDS": "1"}


@dataclass
class Bench:
    stands: Stands
    channel_ids: list[int]
    members: list[dict[str, Any]]
    replies: Replies
    _sent: int = field(default=0, init=False)

    def env(self, *, analytics: bool = True, **extra: str) -> dict[str, str]:
        """The bot's environment: these channels are chat channels (every message there is
        for the bot), no cooldown, and analytics on or off."""
        env = process_env(
            self.stands,
            CHAT_CHANNEL_IDS=",".join(map(str, self.channel_ids)),
            BENCH_PRODUCT_ID=TEST_PRODUCT,
            **NO_COOLDOWN,
        )
        if not analytics:
            del env["GREENFLASH_API_KEY"]
        env.update(extra)
        return env

    async def fill_history(self, exchanges: int = 10) -> None:
        """Give every channel ``exchanges`` answered messages, so that each bot started
        afterwards rebuilds full contexts (20 turns by default) from history and every
        measured reply carries a prompt of the same size."""
        child = await Child.start("bot_process", self.env(analytics=False), self.stands.discord)
        try:
            await self.converse(exchanges * len(self.channel_ids))
        finally:
            await child.stop()

    async def ask(self, channel: int | None = None) -> tuple[float, float]:
        """Send the next message and wait for the bot's reply: when it was sent and when
        the reply reached Discord (``time.perf_counter()``)."""
        prompt = await self.send(channel)
        sent = time.perf_counter()
        return sent, await self.replies.answered(prompt)

    async def converse(self, messages: int, *, pace: float = 0.0) -> None:
        """``messages`` answered messages, spread evenly over one conversation per channel,
        all at once: each conversation sends its next message once the last is answered
        (and no sooner than ``pace`` seconds after it was sent)."""
        channels = len(self.channel_ids)
        loop = asyncio.get_running_loop()

        async def conversation(channel: int, count: int) -> None:
            for _ in range(count):
                started = loop.time()
                await self.ask(channel)
                await asyncio.sleep(max(0.0, pace - (loop.time() - started)))

        await asyncio.gather(*(
            conversation(channel, messages // channels + (channel < messages % channels))
            for channel in range(channels)
        ))

    async def send(self, channel: int | None = None) -> Message:
        """The next message, from the next member, in the next channel round-robin (or in
        the channel at index ``channel``)."""
        n = self._sent
        self._sent += 1
        channel_id = self.channel_ids[(n if channel is None else channel) % len(self.channel_ids)]
        return await self.stands.discord.send_message(
            channel_id, f"question {n}: what is {n} + {n}?",
            author=self.members[n % len(self.members)],
        )


@asynccontextmanager
async def bench(
    channels: int = 50, members: int = 200, *, rate_limits: bool = False
) -> AsyncIterator[Bench]:
    """Started stand-ins with an instant model (the whole answer in one streamed chunk,
    so a reply is one message with no edits) and a guild of ``channels`` text channels
    and ``members`` members; ``rate_limits``: Discord's REST limits apply."""
    async with AsyncExitStack() as stack:
        discord = await stack.enter_async_context(DiscordStandIn(rate_limits=rate_limits))
        openai = await stack.enter_async_context(OpenAIStandIn())
        greenflash = await stack.enter_async_context(GreenflashStandIn())
        openai.chunk_size = 100_000
        world = discord.world
        users = [user_dict(world.snowflakes.next(), f"member{i}") for i in range(members)]
        for user in users:
            world.users[int(user["id"])] = user
        channel_ids = [world.snowflakes.next() for _ in range(channels)]
        world.add_guild(
            world.snowflakes.next(), "Bench Guild", owner_id=ALICE_ID,
            bot_role_id=world.snowflakes.next(),
            channels=[(cid, f"chat-{i}", None) for i, cid in enumerate(channel_ids)],
            threads=[], member_ids=[int(user["id"]) for user in users],
        )
        yield Bench(Stands(discord, openai, greenflash), channel_ids, users, Replies(discord))


class Child:
    """A measured process: the bot (``bot_process``) or the echo baseline (``echo_bot``)."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @classmethod
    async def start(cls, module: str, env: dict[str, str], discord: DiscordStandIn) -> Child:
        """Start ``tests.benchmarks.<module>`` and return once Discord saw it ready."""
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (kept open for the child's life)
            prefix=f"bench-{module}-", suffix=".log", delete=False
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"tests.benchmarks.{module}", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=log,
        )
        log.close()
        child = cls(process, Path(log.name))
        try:
            await discord.wait_until_ready(timeout=30)
        except TimeoutError:
            await child.stop()
            raise RuntimeError(f"{module} did not connect; see {child.log_path}") from None
        await asyncio.sleep(0.5)  # on_ready and the cogs' listeners
        return child

    async def stats(self) -> dict[str, Any]:
        """The child's own figures (see :mod:`tests.benchmarks.process_stats`)."""
        assert self.process.stdout is not None
        self.process.send_signal(signal.SIGUSR1)
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout=10)
        return json.loads(line)

    async def stop(self) -> int:
        """SIGTERM, as a dyno restart sends it; the exit code. The child's log is kept
        (and named) only when it did not exit cleanly."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=40)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        if code == 0:
            self.log_path.unlink(missing_ok=True)
        else:
            print(f"child exited {code}; its log: {self.log_path}", file=sys.stderr)
        return code


class Replies:
    """When each prompt's first reply reached Discord, read off the stand-in's request log."""

    def __init__(self, discord: DiscordStandIn) -> None:
        self.discord = discord
        self.first_at: dict[str, float] = {}
        self._read = len(discord.requests)

    def _catch_up(self) -> None:
        requests = self.discord.requests
        for request in requests[self._read:]:
            reference = (request.json or {}).get("message_reference") if (
                request.method == "POST" and request.status == 200) else None
            if reference:
                self.first_at.setdefault(str(reference["message_id"]), request.received_at)
        self._read = len(requests)

    async def answered(self, prompt: Message, timeout: float = 60.0) -> float:
        """When the first reply to ``prompt`` reached Discord, once it has."""

        def reply_time() -> float | None:
            self._catch_up()
            return self.first_at.get(prompt["id"])

        return await self.discord.until(reply_time, timeout, f"a reply to {prompt['id']}")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), inclusive method."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [list(map(str, headers)), *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
