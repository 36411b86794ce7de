"""What people think of one reply, from their 👍/👎 reactions: the rating Greenflash gets.

The verdict of a reply is

    rating = (up - down) / (up + down), and 0 when nobody has reacted,

where ``up`` and ``down`` are the people whose 👍 / 👎 is on the reply *now*, on any of
its Discord messages; a person counts once per emoji however many parts they reacted to,
and the bot's own invitation reactions never count. It lies in -1..1, and each reaction
change sends the verdict after it, so the latest rating Greenflash holds for a reply is
always the current one: after A 👍 and B 👍, A taking theirs back leaves 1; 👎 and then
removing an older 👍 leaves -1.

A :class:`Tally` follows one reply. For a reply this process sent it starts empty and
follows every reaction event, which is exact. For an older reply (sent before a restart)
it starts from Discord's per-message counts (``count`` minus the bot's own ``me``), which
cannot tell people from other bots nor one person on two parts from two people; from then
on it follows events as well.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

UP, DOWN = "👍", "👎"
RATED = (UP, DOWN)

K = TypeVar("K")
V = TypeVar("V")


def verdict(up: int, down: int) -> float:
    """(up - down) / (up + down), 0 when there are no votes."""
    return 0.0 if up + down == 0 else (up - down) / (up + down)


@dataclass(slots=True)
class Tally:
    """The people's 👍/👎 on one reply. ``seeded`` is what Discord counted before events
    were followed (older replies only); ``people`` is emoji → person → parts reacted to."""

    seeded: dict[str, int] = field(default_factory=dict)
    people: dict[str, dict[int, set[int]]] = field(default_factory=dict)

    def add(self, emoji: str, user_id: int, part_id: int) -> bool:
        """A person reacts; whether that changed anything."""
        parts = self.people.setdefault(emoji, {}).setdefault(user_id, set())
        if part_id in parts:
            return False
        parts.add(part_id)
        return True

    def remove(self, emoji: str, user_id: int, part_id: int) -> bool:
        """A person takes a reaction back; whether that changed anything. Someone the tally
        does not hold reacted before it began, so they were among the seeded count."""
        parts = self.people.get(emoji, {}).get(user_id)
        if parts is not None and part_id in parts:
            parts.remove(part_id)
            if not parts:
                del self.people[emoji][user_id]
            return True
        if self.seeded.get(emoji, 0) <= 0:
            return False
        self.seeded[emoji] -= 1
        return True

    def count(self, emoji: str) -> int:
        return self.seeded.get(emoji, 0) + len(self.people.get(emoji, {}))

    @property
    def rating(self) -> float:
        return verdict(self.count(UP), self.count(DOWN))

    def summary(self) -> str:
        """The counts behind the rating, sent as the rating's feedback text."""
        return f"{self.count(UP)} {UP} {self.count(DOWN)} {DOWN}"


class Recent(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entries first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[K]:
        """Stores ``value``; returns the keys it pushed out."""
        self._items[key] = value
        self._items.move_to_end(key)
        pushed_out = []
        while len(self._items) > self.limit:
            pushed_out.append(self._items.popitem(last=False)[0])
        return pushed_out

    def __len__(self) -> int:
        return len(self._items)
