"""What a person reads when the model could not answer, and how the bot knows its own.

A failed model call ends as a :class:`ModelError` whose kind picks one polite sentence a
Discord user can act on (try again, rephrase, ask an admin); :mod:`bot.llm` decides the kind
from the SDK's error. The sentences are also how history rebuilt from a channel recognises
the bot's failure messages, so they are never fed back to the model as answers.
"""

from __future__ import annotations

import enum


class FailureKind(enum.StrEnum):
    QUOTA = "quota"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    SERVER_ERROR = "server_error"
    REJECTED = "rejected"
    MISCONFIGURED = "misconfigured"
    EMPTY = "empty"


POLITE = {
    FailureKind.QUOTA: "I've reached my usage limit with the AI service, so I can't answer "
    "right now. Please try again later.",
    FailureKind.RATE_LIMITED: "The AI service is busy right now. Please try again in a minute.",
    FailureKind.TIMEOUT: "The AI service took too long to answer. Please try again in a moment.",
    FailureKind.UNREACHABLE: "I couldn't reach the AI service just now. Please try again in a "
    "moment.",
    FailureKind.SERVER_ERROR: "The AI service had a problem answering. Please try again in a "
    "moment.",
    FailureKind.REJECTED: "The AI service couldn't answer that request. Try rephrasing it, or "
    "use /reset to start a fresh conversation.",
    FailureKind.MISCONFIGURED: "I'm not set up correctly to reach the AI service; a server "
    "admin needs to check my configuration.",
    FailureKind.EMPTY: "The AI service returned an empty answer. Please try asking again.",
}


def is_polite_failure(content: str) -> bool:
    """A message the bot posted for a failed model call (possibly after a cut-off stream)."""
    return content.endswith(tuple(POLITE.values()))


class ModelError(Exception):
    """A failed model call, carrying what the user should read and what was shown so far."""

    def __init__(self, kind: FailureKind, detail: str, partial_text: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.partial_text = partial_text

    @property
    def user_message(self) -> str:
        return POLITE[self.kind]
