"""Conversation memory stays within its bounds."""

from __future__ import annotations

from bot.memory import ConversationMemory, Turn


def test_window_bounds_by_count_and_chars() -> None:
    memory = ConversationMemory(max_turns=3, max_chars=25)
    memory.append(1, *(Turn("user", f"message {i:02d}", "a") for i in range(5)))
    assert [turn.content for turn in memory.window(1)] == ["message 03", "message 04"]


def test_reset_keeps_an_empty_entry_and_channels_are_lru_bounded() -> None:
    memory = ConversationMemory(max_turns=5, max_chars=1000, max_channels=2)
    memory.append(1, Turn("user", "hi"))
    memory.reset(1)
    assert 1 in memory
    assert memory.window(1) == []
    memory.append(2, Turn("user", "x"))
    memory.append(3, Turn("user", "y"))
    assert 1 not in memory
    assert len(memory) == 2
