"""Recent conversation per channel, bounded so a busy bot's memory stays flat.

Memory is only a cache: when a channel is missing (after a restart, or evicted as least
recently used) the chat cog rebuilds it from Discord's channel history. Bounds apply twice:
``max_turns`` per channel, and ``max_chars`` when the window for the model is taken, so a
few very long messages cannot crowd out the rest or blow the model's context.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str
    author: str = ""


class ConversationMemory:
    def __init__(self, *, max_turns: int, max_chars: int, max_channels: int = 2_000) -> None:
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.max_channels = max_channels
        self._channels: OrderedDict[int, deque[Turn]] = OrderedDict()

    def __contains__(self, channel_id: int) -> bool:
        return channel_id in self._channels

    def __len__(self) -> int:
        return len(self._channels)

    def _turns(self, channel_id: int) -> deque[Turn]:
        turns = self._channels.get(channel_id)
        if turns is None:
            turns = self._channels[channel_id] = deque(maxlen=self.max_turns)
            while len(self._channels) > self.max_channels:
                self._channels.popitem(last=False)
        self._channels.move_to_end(channel_id)
        return turns

    def replace(self, channel_id: int, turns: Iterable[Turn]) -> None:
        stored = self._turns(channel_id)
        stored.clear()
        stored.extend(turns)

    def append(self, channel_id: int, *turns: Turn) -> None:
        self._turns(channel_id).extend(turns)

    def reset(self, channel_id: int) -> None:
        """Keep an empty entry, so the history before the reset is not rebuilt."""
        self._turns(channel_id).clear()

    def window(self, channel_id: int) -> list[Turn]:
        """The newest turns that fit in ``max_chars``, oldest first."""
        picked: list[Turn] = []
        size = 0
        for turn in reversed(self._channels.get(channel_id, ())):
            size += len(turn.content)
            if picked and size > self.max_chars:
                break
            picked.append(turn)
        picked.reverse()
        return picked
