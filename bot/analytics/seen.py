"""Who analytics has already identified in this process."""

from __future__ import annotations

from collections import OrderedDict


class SeenCache:
    """Bounded id → name memory, so identifying stays once per process and flat.

    Users are keyed on their account-wide name, never a guild nickname: someone known by
    two nicknames in two guilds is still one person, identified once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._names: OrderedDict[int, str] = OrderedDict()

    def claim(self, key: int, name: str) -> bool:
        """True when ``key`` is new or renamed; records it either way."""
        if self._names.get(key) == name:
            self._names.move_to_end(key)
            return False
        self._names[key] = name
        self._names.move_to_end(key)
        while len(self._names) > self.limit:
            self._names.popitem(last=False)
        return True

    def forget(self, key: int) -> None:
        self._names.pop(key, None)
