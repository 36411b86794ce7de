"""Recent conversation per channel, bounded so a busy bot's memory stays flat.

Memory is only a cache: when a channel is missing (after a restart, or evicted as least
recently used) the chat cog rebuilds it from Discord's channel history. Bounds apply twice:
``max_turns`` per channel, and ``max_chars`` when the window for the model is taken, so a
few very long messages cannot crowd out the rest or blow the model's context.

Turns are kept in Discord order (by ``key``, the Discord id of the message they come from),
whatever order they are recorded in: two prompts in one channel are recorded as they are
accepted and their answers when they are posted, so the memory reads like the channel and
like the history a rebuild reads back.

Each channel's conversation carries an *epoch*, renewed by :meth:`ConversationMemory.reset`.
A reply records its turns with the epoch it started in, so a reply still in flight when
someone runs ``/reset`` cannot put its turns into the fresh conversation.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from bot.attachments.kinds import ImageInput

_EPOCHS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str
    author: str = ""
    key: int = 0
    """Where the turn sits in the channel: the Discord id of its (first) message."""
    images: tuple[ImageInput, ...] = ()
    """Images the model sees with this turn: only the question being answered has any;
    memory keeps turns without them (their ``[image: name]`` notes stay in ``content``)."""


@dataclass(slots=True)
class _Channel:
    turns: deque[Turn]
    epoch: int = field(default_factory=lambda: next(_EPOCHS))


class ConversationMemory:
    def __init__(self, *, max_turns: int, max_chars: int, max_channels: int = 2_000) -> None:
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.max_channels = max_channels
        self._channels: OrderedDict[int, _Channel] = OrderedDict()

    def __contains__(self, channel_id: int) -> bool:
        return channel_id in self._channels

    def __len__(self) -> int:
        return len(self._channels)

    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel(deque(maxlen=self.max_turns))
            while len(self._channels) > self.max_channels:
                self._channels.popitem(last=False)
        self._channels.move_to_end(channel_id)
        return channel

    def _current(self, channel_id: int, epoch: int) -> deque[Turn] | None:
        channel = self._channels.get(channel_id)
        return channel.turns if channel is not None and channel.epoch == epoch else None

    def replace(self, channel_id: int, turns: Iterable[Turn]) -> None:
        """Fill a channel from its rebuilt history, a fresh conversation."""
        channel = self._channel(channel_id)
        channel.turns.clear()
        for turn in turns:
            _insert(channel.turns, turn)
        channel.epoch = next(_EPOCHS)

    def epoch(self, channel_id: int) -> int:
        """The channel's current conversation, for :meth:`add` and :meth:`discard`."""
        return self._channel(channel_id).epoch

    def add(self, channel_id: int, turn: Turn, *, epoch: int) -> bool:
        """Record ``turn`` in Discord order, unless the conversation ``epoch`` has ended."""
        turns = self._current(channel_id, epoch)
        if turns is None:
            return False
        _insert(turns, turn)
        self._channels.move_to_end(channel_id)
        return True

    def discard(self, channel_id: int, key: int, *, epoch: int) -> None:
        """Forget the turns recorded under ``key`` (a prompt that got no answer)."""
        turns = self._current(channel_id, epoch)
        if turns is not None and any(turn.key == key for turn in turns):
            kept = [turn for turn in turns if turn.key != key]
            turns.clear()
            turns.extend(kept)

    def reset(self, channel_id: int) -> None:
        """Keep an empty entry, so the history before the reset is not rebuilt, and end the
        conversation's epoch, so replies still in flight do not record into the new one."""
        channel = self._channel(channel_id)
        channel.turns.clear()
        channel.epoch = next(_EPOCHS)

    def window(self, channel_id: int, *, before: int | None = None) -> list[Turn]:
        """The newest turns (older than ``before``, when given) that fit in ``max_chars``,
        oldest first. The newest one is kept even if it alone is longer."""
        channel = self._channels.get(channel_id)
        picked: list[Turn] = []
        size = 0
        for turn in reversed(channel.turns if channel is not None else ()):
            if before is not None and turn.key >= before:
                continue
            size += len(turn.content)
            if picked and size > self.max_chars:
                break
            picked.append(turn)
        picked.reverse()
        return picked


def _insert(turns: deque[Turn], turn: Turn) -> None:
    """Insert by ``key`` after equal keys; at most ``maxlen`` steps back from the end. A turn
    older than everything a full deque keeps is dropped, as the oldest would be."""
    if not turns or turns[-1].key <= turn.key:
        turns.append(turn)
        return
    index = len(turns)
    while index > 0 and turns[index - 1].key > turn.key:
        index -= 1
    if len(turns) == turns.maxlen:
        if index == 0:
            return
        turns.popleft()
        index -= 1
    turns.insert(index, turn)
