"""The verdict of a reply from people's reactions, over generated reaction histories."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.verdicts import DOWN, RATED, UP, Recent, Tally, verdict

PEOPLE = st.integers(min_value=1, max_value=6)
PARTS = st.integers(min_value=100, max_value=102)
CHANGES = st.lists(st.tuples(st.booleans(), st.sampled_from(RATED), PEOPLE, PARTS),
                   max_size=60)


def expected(present: set[tuple[str, int, int]]) -> float:
    """The requirement itself: (up - down) / (up + down) over the people whose reaction is
    on any part now, each person once per emoji; 0 when nobody has reacted."""
    up = len({person for emoji, person, _ in present if emoji == UP})
    down = len({person for emoji, person, _ in present if emoji == DOWN})
    return 0.0 if up + down == 0 else (up - down) / (up + down)


@given(CHANGES)
def test_a_followed_tally_always_gives_the_current_verdict(
    changes: list[tuple[bool, str, int, int]],
) -> None:
    tally = Tally()
    present: set[tuple[str, int, int]] = set()
    for added, emoji, person, part in changes:
        key = (emoji, person, part)
        changed = (tally.add if added else tally.remove)(emoji, person, part)
        assert changed == ((key not in present) if added else (key in present))
        (present.add if added else present.discard)(key)
        assert tally.rating == expected(present)
        assert -1.0 <= tally.rating <= 1.0


@given(st.integers(0, 5), st.integers(0, 5), CHANGES)
def test_a_seeded_tally_never_counts_below_zero(
    up: int, down: int, changes: list[tuple[bool, str, int, int]]
) -> None:
    tally = Tally(seeded={UP: up, DOWN: down})
    for added, emoji, person, part in changes:
        (tally.add if added else tally.remove)(emoji, person, part)
        assert tally.count(UP) >= 0 and tally.count(DOWN) >= 0
        assert -1.0 <= tally.rating <= 1.0


def test_the_issue_sequences() -> None:
    both_up = Tally()
    both_up.add(UP, 1, 100)
    both_up.add(UP, 2, 100)
    both_up.remove(UP, 1, 100)
    assert both_up.rating == 1.0
    changed_mind = Tally()
    changed_mind.add(UP, 1, 100)
    changed_mind.add(DOWN, 1, 100)
    changed_mind.remove(UP, 1, 100)
    assert changed_mind.rating == -1.0
    assert Tally().rating == 0.0
    assert verdict(1, 2) == -1 / 3


@given(st.lists(st.integers(0, 50), max_size=200), st.integers(1, 10))
def test_recent_keeps_at_most_its_limit_and_the_newest(keys: list[int], limit: int) -> None:
    recent: Recent[int, int] = Recent(limit)
    for key in keys:
        recent.put(key, key + 1)
        assert len(recent) <= limit
        assert recent.get(key) == key + 1
