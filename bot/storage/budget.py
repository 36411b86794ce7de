"""Daily budgets: the day boundary and the arithmetic, kept pure so they can be tested
over generated inputs.

A day is a UTC calendar day: everyone's usage resets at 00:00 UTC, whatever their time
zone, so a notice can say exactly when and two processes in different zones agree.
Two counters are kept per person and day: tokens (as the API reports them) and replies
(messages). A token limit only bites when the server reports usage; a message limit works
with any server. ``None`` means no limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

UTC = dt.UTC


@dataclass(frozen=True)
class Budget:
    """What one person may use per day; ``None`` is unlimited."""

    tokens: int | None = None
    messages: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.tokens is None and self.messages is None


@dataclass(frozen=True)
class Usage:
    tokens: int = 0
    messages: int = 0


@dataclass(frozen=True)
class GuildBudget:
    """A guild's own setting: ``None`` follows the operator default, ``0`` is unlimited."""

    tokens: int | None = None
    messages: int | None = None


def effective_budget(guild: GuildBudget | None, default: Budget) -> Budget:
    if guild is None:
        return default

    def pick(own: int | None, fallback: int | None) -> int | None:
        if own is None:
            return fallback
        return own or None

    return Budget(pick(guild.tokens, default.tokens), pick(guild.messages, default.messages))


def exhausted(budget: Budget, usage: Usage) -> bool:
    """Used up: a counter has reached its limit (the reply that reaches it is allowed)."""
    return (budget.tokens is not None and usage.tokens >= budget.tokens) or (
        budget.messages is not None and usage.messages >= budget.messages
    )


def usage_day(now: dt.datetime) -> dt.date:
    """The UTC day ``now`` falls in; naive datetimes are refused rather than guessed."""
    if now.tzinfo is None:
        raise ValueError("usage_day needs an aware datetime")
    return now.astimezone(UTC).date()


def reset_time(now: dt.datetime) -> dt.datetime:
    """The next 00:00 UTC after ``now``: when today's usage stops counting."""
    day = usage_day(now)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
