"""Conversation memory stays within its bounds, in Discord order, and across resets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.conversation.memory import ConversationMemory, Turn


def record(memory: ConversationMemory, channel: int, *turns: Turn) -> None:
    epoch = memory.epoch(channel)
    for turn in turns:
        assert memory.add(channel, turn, epoch=epoch)


def test_window_bounds_by_count_and_chars() -> None:
    memory = ConversationMemory(max_turns=3, max_chars=25)
    record(memory, 1, *(Turn("user", f"message {i:02d}", "a", key=i) for i in range(5)))
    assert [turn.content for turn in memory.window(1)] == ["message 03", "message 04"]


def test_reset_keeps_an_empty_entry_and_channels_are_lru_bounded() -> None:
    memory = ConversationMemory(max_turns=5, max_chars=1000, max_channels=2)
    record(memory, 1, Turn("user", "hi"))
    memory.reset(1)
    assert 1 in memory
    assert memory.window(1) == []
    record(memory, 2, Turn("user", "x"))
    record(memory, 3, Turn("user", "y"))
    assert 1 not in memory
    assert len(memory) == 2


def test_a_reply_from_before_a_reset_is_not_recorded_after_it() -> None:
    memory = ConversationMemory(max_turns=5, max_chars=1000)
    epoch = memory.epoch(1)
    memory.add(1, Turn("user", "question", key=10), epoch=epoch)
    memory.reset(1)
    assert not memory.add(1, Turn("assistant", "late answer", key=11), epoch=epoch)
    fresh = memory.epoch(1)
    memory.add(1, Turn("user", "new question", key=12), epoch=fresh)
    assert [turn.content for turn in memory.window(1)] == ["new question"]


def test_turns_recorded_out_of_order_read_in_discord_order() -> None:
    memory = ConversationMemory(max_turns=10, max_chars=1000)
    epoch = memory.epoch(1)
    for key, text in [(1, "A asks"), (2, "B asks"), (4, "answer to B"), (3, "answer to A")]:
        memory.add(1, Turn("user", text, key=key), epoch=epoch)
    assert [turn.content for turn in memory.window(1)] == [
        "A asks", "B asks", "answer to A", "answer to B",
    ]
    assert [turn.content for turn in memory.window(1, before=3)] == ["A asks", "B asks"]


def test_discard_forgets_an_unanswered_prompt() -> None:
    memory = ConversationMemory(max_turns=10, max_chars=1000)
    record(memory, 1, Turn("user", "kept", key=1), Turn("user", "failed", key=2))
    memory.discard(1, 2, epoch=memory.epoch(1))
    assert [turn.content for turn in memory.window(1)] == ["kept"]


turn_lists = st.lists(
    st.builds(
        Turn,
        role=st.sampled_from(["user", "assistant"]),
        content=st.text(max_size=60),
        key=st.integers(min_value=1, max_value=10_000),
    ),
    max_size=60,
)


@given(
    turns=turn_lists,
    max_turns=st.integers(min_value=1, max_value=25),
    max_chars=st.integers(min_value=1, max_value=300),
    before=st.none() | st.integers(min_value=1, max_value=10_001),
)
def test_window_properties(
    turns: list[Turn], max_turns: int, max_chars: int, before: int | None
) -> None:
    memory = ConversationMemory(max_turns=max_turns, max_chars=max_chars)
    record(memory, 1, *turns)
    # What is kept: the max_turns newest by Discord order (stable for equal keys).
    kept = sorted(turns, key=lambda turn: turn.key)[-max_turns:] if turns else []
    eligible = [turn for turn in kept if before is None or turn.key < before]
    window = memory.window(1, before=before)

    assert len(window) <= max_turns
    # Newest first: the window is the newest end of what is eligible, order kept.
    assert window == eligible[len(eligible) - len(window):]
    size = sum(len(turn.content) for turn in window)
    # Within max_chars, except that the newest turn is always given.
    assert size <= max_chars or len(window) == 1
    # Nothing more fits: one more (older) turn would break the bound.
    if len(window) < len(eligible):
        assert size + len(eligible[-len(window) - 1].content) > max_chars or not window
    assert bool(window) == bool(eligible)
