"""The loop watchdog names what held the event loop, once per stall."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from bot.runtime.loop_watchdog import BEAT, LoopWatchdog
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import until

THRESHOLD = 0.3


def hold_the_loop() -> None:
    time.sleep(THRESHOLD * 3)  # a blocking call, as a bug would make it


def stall_reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "bot.runtime.loop_watchdog" and "event loop blocked" in r.getMessage()]


async def test_a_blocking_callback_is_logged_once_with_its_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "bot.runtime.loop_watchdog")
    watchdog = LoopWatchdog(THRESHOLD)
    watchdog.start()
    try:
        asyncio.get_running_loop().call_soon(hold_the_loop)
        await until(lambda: watchdog.longest_stall > THRESHOLD, "the loop to run again")
        await asyncio.sleep(THRESHOLD)  # the watchdog's next checks see a running loop
    finally:
        watchdog.stop()
    (report,) = stall_reports(caplog)  # once, although the stall outlasted several checks
    assert "hold_the_loop" in report
    assert "time.sleep(THRESHOLD * 3)" in report
    assert watchdog.stalls == 1
    assert watchdog.longest_stall >= THRESHOLD * 2


async def test_a_short_pause_is_measured_but_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "bot.runtime.loop_watchdog")
    threshold = 1.0
    watchdog = LoopWatchdog(threshold)
    watchdog.start()
    try:
        # Held 0.6 s: the next beat is late by 0.35 s at least (it was due within BEAT).
        asyncio.get_running_loop().call_soon(time.sleep, 0.6)
        await until(lambda: watchdog.longest_stall > 0.5 - BEAT, "the loop to run again")
        # Time passing is the test: a report would come within one threshold of the stall.
        await asyncio.sleep(threshold)
    finally:
        watchdog.stop()
    assert stall_reports(caplog) == []
    assert watchdog.stalls == 0


async def test_the_bot_starts_its_watchdog_and_stops_it_on_close(
    stands: Stands, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.runtime.loop_watchdog")
    async with running_bot(stands, bot_settings(stands, loop_stall_seconds=THRESHOLD)) as bot:
        assert "loop-watchdog" in [t.name for t in threading.enumerate()]
        asyncio.get_running_loop().call_soon(hold_the_loop)  # the bot's loop is this one
        await until(lambda: bot.watchdog.stalls, "the watchdog's report")
    assert "hold_the_loop" in stall_reports(caplog)[0]
    assert "loop-watchdog" not in [t.name for t in threading.enumerate()]
