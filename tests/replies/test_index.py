"""The index of reply parts over generated replies: every part of a recent reply finds its
first part, the index never holds more than its bound, and it forgets oldest first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.replies.index import ReplyIndex

# Discord ids only grow, so replies are made of fresh, increasing ids.
reply_sizes = st.lists(st.integers(min_value=1, max_value=10), max_size=60)


@given(reply_sizes, st.integers(min_value=10, max_value=50))
def test_recent_parts_find_their_first_part_within_the_bound(
    sizes: list[int], limit: int
) -> None:
    index = ReplyIndex(limit)
    replies, next_id = [], 1
    for size in sizes:
        parts = tuple(range(next_id, next_id + size))
        next_id += size
        index.add(parts)
        replies.append(parts)
    kept = [part for parts in replies for part in parts][-limit:]
    for parts in replies:
        for part in parts:
            expected = parts[0] if part in kept else None
            assert index.first_part(part) == expected
    assert index.first_part(next_id) is None
