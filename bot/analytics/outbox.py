"""Greenflash calls written to the bot's database before they are sent, so a process that
dies (SIGKILL, an out-of-memory kill, a deploy during an outage) loses none of them.

A logging task hands its call to :meth:`Outbox.put` (the SDK method's kind and keyword
arguments) and is done: nothing on a reply's path waits for the database. The writer
batches what arrives into one transaction 0.3 to 0.5 s later, between replies when it can
(longer batches mean fewer transactions per call, but until a call is written a SIGKILL
loses it: ``tests/benchmarks/bench_crash_loop.py`` missed calls made a second before a
kill with 0.5 to 0.75 s).
The sender claims the oldest due rows (:mod:`bot.storage.outbox`; one worker per row at a
time), up to ``CLAIM_WAVES`` times ``GREENFLASH_MAX_IN_FLIGHT`` at once, sends each through
the SDK method of the one client, at most ``GREENFLASH_MAX_IN_FLIGHT`` at a time, and
deletes the delivered in one statement: a claim and a delete per batch are most of what the
outbox costs (profiled under ``tests/benchmarks/bench_latency.py``, one of each per 8 calls
cost the loop as much as sending them), so a batch is several waves of sends. A row whose
turn comes too late for its send to end within the lease is given back unsent, so no row is
ever sent after its lease could have run out.
So each call reaches Greenflash once:

* messages carry ``external_message_id`` and events ``insert_id`` (Greenflash skips what it
  has), users and organizations are upserts: resending these is harmless, so a call with
  no answer (sent, outcome unknown), or left claimed by a dead worker, is sent again;
* ratings have no idempotency key: one is sent again only when it is known not to have
  arrived (no connection, 408/409/429/5xx). A rating whose outcome is unknown (no answer,
  or its worker died holding it) is kept as dead, not re-sent: a missed rating is mended
  by the next reaction (each carries the reply's whole current verdict), a doubled one
  would count twice;
* a 4xx other than 408/409/429 is refused for good: dead, with its error, counted.

While Greenflash cannot be reached (:class:`~bot.analytics.outage.Reachability`), only the
oldest row is tried, after the same pauses as the in-memory hold (1 s doubling to 8 s).
While the database does not answer, calls wait in memory (at most
``GREENFLASH_MAX_PENDING``, oldest dropped first) and are written when it answers; at
shutdown they are sent directly within the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import greenflash

from bot.analytics.outage import FIRST_PAUSE, MAX_PAUSE, Reachability
from bot.greenflash_client import GreenflashSettings, describe
from bot.runtime.foreground import Foreground
from bot.storage import DATABASE_ERRORS, Claimed, OutboxStore, Outcome, describe_error

log = logging.getLogger(__name__)

Method = Callable[..., Awaitable[Any]]

FLUSH_DELAY = 0.3  # how long the writer gathers calls into one transaction
IDLE_WAIT = 0.2  # then how long it waits for the replies in progress to finish
POLL_SECONDS = 1.0  # how often an idle sender looks for rows due (retries, other workers')
TRIM_SECONDS = 60.0
LEASE_MARGIN = 5.0  # a lease is the send's bound plus this: the window to start it, and slack
CLAIM_WAVES = 4  # rows claimed at once, in multiples of GREENFLASH_MAX_IN_FLIGHT
RETRIED_STATUSES = frozenset({408, 409, 429})

Counted = Literal["sent", "failed", "dropped", "dead"]


@dataclass(slots=True)
class AnalyticsStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    dead: int = 0  # refused by Greenflash for good, kept in the outbox

    def count(self, outcome: Counted, calls: int) -> None:
        setattr(self, outcome, getattr(self, outcome) + calls)


def methods_of(client: greenflash.AsyncGreenflash) -> dict[str, Method]:
    """Each kind's SDK method. Ratings go without the SDK's retries: it re-sends a
    timed-out request, and a rating has no idempotency key."""
    once = client.with_options(max_retries=0)
    return {
        "message": client.messages.create,
        "user": client.users.create,
        "organization": client.organizations.create,
        "rating": once.ratings.log,
        "event": client.events.create,
    }


def _iso(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written to the outbox")


def encode(arguments: Mapping[str, Any]) -> str:
    """An SDK call's keyword arguments as JSON, datetimes as ISO 8601 strings (which the
    SDK's ``Union[str, datetime]`` parameters send unchanged)."""
    return json.dumps(arguments, default=_iso, ensure_ascii=False, separators=(",", ":"))


def decode(payload: str) -> dict[str, Any]:
    arguments: dict[str, Any] = json.loads(payload)
    return arguments


def retry_pause(attempts: int) -> float:
    """The in-memory hold's backoff: 1 s, doubling, at most 8 s."""
    return min(FIRST_PAUSE * 2.0 ** max(0, min(attempts - 1, 8)), MAX_PAUSE)


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        methods: Mapping[str, Method],
        settings: GreenflashSettings,
        *,
        foreground: Foreground,
        reachability: Reachability,
        stats: AnalyticsStats,
    ) -> None:
        self.store = store
        self.methods = methods
        self.settings = settings
        self.foreground = foreground
        self.reachability = reachability
        self.counted = stats.count
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[-100:]
        send_seconds = settings.timeout * (settings.max_retries + 1) + 8.0 * settings.max_retries
        self.send_bound = send_seconds
        self.lease = dt.timedelta(seconds=send_seconds + LEASE_MARGIN)
        self._queue: list[tuple[str, str]] = []
        self._queued = asyncio.Event()
        self._due = asyncio.Event()
        self._idle = asyncio.Event()
        self._in_flight: dict[int, str] = {}  # being sent now: id → kind
        self._held: set[int] = set()  # claimed, not yet settled
        self._tasks: list[asyncio.Task[None]] = []
        self._database_down = False
        self._trimmed_before = False
        self._next_trim = 0.0

    def put(self, kind: str, arguments: Mapping[str, Any]) -> None:
        """Hand a call over; it is on disk within about a second."""
        if len(self._queue) >= self.settings.max_pending:
            self._queue.pop(0)
            self.counted("dropped", 1)
            log.warning("greenflash outbox: database unavailable and %d calls waiting in "
                        "memory; dropped the oldest", len(self._queue) + 1)
        self._queue.append((kind, encode(arguments)))
        self._idle.clear()
        self._queued.set()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._write_loop()),
                           asyncio.create_task(self._send_loop())]

    # -- writing --------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._queued.wait()
            await asyncio.sleep(FLUSH_DELAY)
            # After replies in progress, but not long: a busy bot is seldom idle, and until
            # a call is written a SIGKILL loses it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_WAIT):
                    await self.foreground.idle()
            if not await self.flush():
                await asyncio.sleep(POLL_SECONDS)

    async def flush(self) -> bool:
        """Write what waits in memory, in one transaction; False if the database failed."""
        batch, self._queue = self._queue, []
        self._queued.clear()
        try:
            await self.store.add(batch)
        except DATABASE_ERRORS as error:
            self._queue = batch + self._queue
            self._queued.set()
            if not self._database_down:
                self._database_down = True
                log.warning("greenflash outbox: database unavailable (%s); holding calls in "
                            "memory until it answers", describe_error(error))
            return False
        if self._database_down:
            self._database_down = False
            log.info("greenflash outbox: database answering again; calls written")
        self._due.set()
        return True

    # -- sending --------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() >= self._next_trim:
                self._next_trim = loop.time() + TRIM_SECONDS
                await self._trim()
            await self.foreground.idle()
            await self.reachability.wait_turn()
            limit = 1 if self.reachability.down else self.settings.max_in_flight * CLAIM_WAVES
            self._due.clear()  # a write from now on ends the wait below
            # Taken before the claim, whose lease starts later. A send starts within the first
            # half of the margin, so it ends with the other half to spare for the clocks of
            # workers on other hosts.
            start_by = loop.time() + LEASE_MARGIN / 2
            try:
                rows = await self.store.claim(self.worker, limit, self.lease)
            except DATABASE_ERRORS as error:
                log.debug("greenflash outbox: claim failed: %s", describe_error(error))
                rows = []
            if rows:
                self._idle.clear()
                await self._settle(await self._deliver_all(rows, start_by))
                if len(rows) == limit:  # more may be due (while down: after the pause)
                    continue
            elif not self._queue:
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):  # wait_for (3.11) can eat a cancel
                    await self._due.wait()

    async def _deliver_all(self, rows: list[Claimed], start_by: float) -> list[Outcome]:
        """Each row sent in claim order, ``max_in_flight`` at a time, after users' replies;
        a row whose turn comes after ``start_by`` (loop time) is given back unsent, since its
        send could then outlast its lease."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self.settings.max_in_flight)
        self._held.update(row.id for row in rows)

        async def turn(row: Claimed) -> Outcome:
            await self.foreground.idle()
            async with slots:
                if loop.time() > start_by:
                    return Outcome(row.id, "released")
                return await self._deliver(row)

        try:
            return await asyncio.gather(*(turn(row) for row in rows))
        finally:
            self._held.difference_update(row.id for row in rows)

    async def _deliver(self, row: Claimed) -> Outcome:
        if row.kind == "rating" and row.orphaned:
            return self._outcome(row, "dead", "rating not re-sent: its worker stopped before "
                                 "an answer, so whether it arrived is unknown")
        method = self.methods.get(row.kind)
        if method is None:
            return self._outcome(row, "dead", f"unknown kind {row.kind!r}")
        self._in_flight[row.id] = row.kind
        try:
            async with asyncio.timeout(self.send_bound):
                await method(**decode(row.payload))
        except greenflash.APIStatusError as error:
            retried = error.status_code in RETRIED_STATUSES or error.status_code >= 500
            return self._outcome(row, "retry" if retried else "dead", describe(error))
        except greenflash.APIConnectionError as error:
            if not self.reachability.connection_failed(error):
                return Outcome(row.id, "retry", describe(error))  # tried again when it is up
            return self._unknown(row, describe(error))
        except TimeoutError:
            return self._unknown(row, f"no answer within {self.send_bound:g}s")
        except Exception as error:  # a payload the SDK rejects: kept for the operator
            log.exception("greenflash outbox: %s call %d crashed", row.kind, row.id)
            return self._outcome(row, "dead", describe(error))
        finally:
            self._in_flight.pop(row.id, None)
        self.reachability.reached()
        self.counted("sent", 1)
        return Outcome(row.id, "delivered")

    def _unknown(self, row: Claimed, error: str) -> Outcome:
        """Sent, no answer: re-sent unless it is a rating (which could then count twice)."""
        return self._outcome(row, "dead" if row.kind == "rating" else "retry",
                             f"{error} (sent, outcome unknown)")

    def _outcome(self, row: Claimed, state: Literal["retry", "dead"], error: str) -> Outcome:
        """A failed attempt, counted and logged."""
        self.counted(state if state == "dead" else "failed", 1)
        log.warning("greenflash %s call %s: %s (attempt %d)", row.kind,
                    "refused for good, kept as dead" if state == "dead" else "failed",
                    error, row.attempts)
        return Outcome(row.id, state, error, retry_pause(row.attempts))

    async def _settle(self, outcomes: list[Outcome]) -> None:
        """If the database fails here, the rows' leases run out and they are claimed again
        (harmless: see the module docstring)."""
        try:
            await self.store.settle(outcomes)
        except DATABASE_ERRORS as error:
            log.warning("greenflash outbox: could not record %d outcome(s): %s",
                        len(outcomes), describe_error(error))

    async def _trim(self) -> None:
        hours = dt.timedelta(hours=self.settings.outbox_max_age_hours)
        try:
            dropped = await self.store.trim(self.settings.outbox_max_rows, hours)
        except DATABASE_ERRORS as error:
            log.debug("greenflash outbox: trim failed: %s", describe_error(error))
            return
        if dropped:
            self.counted("dropped", dropped)
            level = logging.INFO if self._trimmed_before else logging.WARNING
            self._trimmed_before = True
            log.log(level, "greenflash outbox past its bounds (%d rows, %g hours): dropped "
                    "the %d oldest", self.settings.outbox_max_rows,
                    self.settings.outbox_max_age_hours, dropped)

    # -- shutdown -------------------------------------------------------------------------

    async def close(self, grace: float) -> int | None:
        """Write what waits, send what can be sent within ``grace``, give back the rest;
        how many calls wait in the outbox for the next start (``None``: unknown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace if self._tasks else 0):  # never started
                if not self._queue or await self.flush():
                    self._due.set()
                    await self._idle.wait()
        # Taken before the cancel, whose unwinding forgets them. A rating cut off mid-send
        # keeps its claim: whether it arrived is unknown.
        given_back = [row_id for row_id in self._held if self._in_flight.get(row_id) != "rating"]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(*DATABASE_ERRORS):
            await self.store.release(given_back)
        await self._send_unwritten(max(0.0, deadline - loop.time()))
        try:
            return (await self.store.summary()).pending
        except DATABASE_ERRORS:
            return None

    async def _send_unwritten(self, seconds: float) -> None:
        """Calls the database never took, sent directly (the in-memory behaviour)."""
        unwritten, self._queue = self._queue, []
        if not unwritten:
            return
        slots = asyncio.Semaphore(self.settings.max_in_flight)

        async def send(kind: str, payload: str) -> bool:
            async with slots:
                try:
                    await self.methods[kind](**decode(payload))
                except Exception as error:  # the same outcomes as the sender's, counted below
                    log.debug("greenflash %s call failed at shutdown: %s", kind, describe(error))
                    return False
            return True

        sends = [asyncio.ensure_future(send(kind, payload)) for kind, payload in unwritten]
        done, not_done = await asyncio.wait(sends, timeout=seconds)
        for task in not_done:
            task.cancel()
        sent = sum(1 for task in done if not task.cancelled() and task.result())
        self.counted("sent", sent)
        self.counted("dropped", len(unwritten) - sent)
        if sent < len(unwritten):
            log.warning("greenflash outbox: %d call(s) neither written nor sent before "
                        "shutdown (database unavailable)", len(unwritten) - sent)
