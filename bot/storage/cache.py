"""A small in-memory cache with a time to live, so a reply does not wait on the database.

An entry younger than ``ttl`` seconds is *fresh*; an older one is still returned as
*stale*, so the caller can answer at once and refresh it in the background. Every write
stamps the entry with a serial number: a background refresh that started before a newer
write carries the old serial and is dropped (:meth:`put_if`), so it cannot bring back a
value this process has just replaced. The size is bounded; the least recently written
entry goes first. The clock is injectable so tests move time instead of sleeping.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Hit(Generic[V]):
    value: V
    fresh: bool
    serial: int


class TTLCache(Generic[K, V]):
    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[K, tuple[V, float, int]] = OrderedDict()
        self._serials = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> Hit[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at, serial = entry
        return Hit(value, self.clock() - stored_at < self.ttl, serial)

    def serial(self, key: K) -> int:
        """The stamp of the current entry (0 when absent), to pass to :meth:`put_if`."""
        entry = self._entries.get(key)
        return 0 if entry is None else entry[2]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (value, self.clock(), next(self._serials))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def put_if(self, key: K, value: V, serial: int) -> bool:
        """Store ``value`` only if nothing was written to ``key`` since ``serial`` was read."""
        if self.serial(key) != serial:
            return False
        self.put(key, value)
        return True
