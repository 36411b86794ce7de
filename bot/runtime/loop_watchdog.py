"""A loop watchdog: a stalled event loop explains itself in the log.

Everything the bot does runs on one asyncio loop; a blocking call or a runaway loop over
model text freezes every conversation, the heartbeats to Discord included, and leaves
nothing in the log. The loop touches a heartbeat every :data:`BEAT` seconds; a daemon
thread checks it, and when the loop has not run for ``threshold`` seconds it logs, once
per stall, the stack of the loop's thread at that moment (``sys._current_frames()``), so
the Heroku log names the function that held the loop.

Cost: one timer callback every 0.25 s on the loop and a thread that wakes as often.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)

BEAT = 0.25


class LoopWatchdog:
    def __init__(self, threshold: float = 1.0) -> None:
        self.threshold = threshold
        self.longest_stall = 0.0
        self.stalls = 0
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching the running loop (call from inside it)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._timer = self._loop.call_later(BEAT, self._tick)
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def _tick(self) -> None:
        now = time.monotonic()
        # The gap beyond the beat is how long the loop was held (also for stalls shorter
        # than the threshold, so a benchmark sees the longest one).
        self.longest_stall = max(self.longest_stall, now - self._beat - BEAT)
        self._beat = now
        assert self._loop is not None
        self._timer = self._loop.call_later(BEAT, self._tick)

    def _watch(self) -> None:
        reported = -1.0  # the beat a stall was last reported at
        while not self._stop.wait(min(BEAT, self.threshold / 2)):
            beat = self._beat
            held = time.monotonic() - beat - BEAT
            if held > self.threshold and beat != reported:
                reported = beat
                self.stalls += 1
                log.warning(
                    "event loop blocked for %.1fs (threshold %.1fs); it is running:\n%s",
                    held, self.threshold, self._loop_stack(),
                )

    def _loop_stack(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return "(loop thread not found)"
        return "".join(traceback.format_stack(frame)).rstrip()
