"""Which reply each message the bot sent belongs to, for replies sent in this process.

A long answer is split over several Discord messages, and a reaction on any of them rates
the whole reply, which Greenflash knows by its first message. The chat cog records each
reply's parts as it logs the reply; reactions (``cogs/feedback.py``) look parts up here
before asking Discord. Bounded: the oldest parts are forgotten first, and a forgotten
part is traced through Discord instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

REPLY_PARTS_KEPT = 20_000


class ReplyIndex:
    def __init__(self, limit: int = REPLY_PARTS_KEPT) -> None:
        self.limit = limit
        self._first_part: OrderedDict[int, int] = OrderedDict()

    def add(self, parts: Sequence[int]) -> None:
        """Record a reply's message ids, first part first."""
        for message_id in parts:
            self._first_part[message_id] = parts[0]
        while len(self._first_part) > self.limit:
            self._first_part.popitem(last=False)

    def first_part(self, message_id: int) -> int | None:
        """The first message of the reply that ``message_id`` belongs to, if known."""
        return self._first_part.get(message_id)
