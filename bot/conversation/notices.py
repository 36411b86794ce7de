"""Fixed texts the bot posts that are not model output.

They live together so the rest of the bot can recognise them in channel history: a context
rebuild must not feed them to the model, and a reaction on one must not become a rating.
"""

from __future__ import annotations

EMPTY_MENTION = "Hi! Ask me something after the mention, or use `/ask`."
STICKERS_ONLY = "I can't read stickers. Please type your question."
COOLDOWN = "You're sending messages quickly. Please try again in {seconds:.0f}s."
BUDGET_REACHED = (
    "You've reached your daily limit with me in this server. It resets <t:{resets}:R>."
)
NO_THREAD_PERMISSIONS = (
    "I'm answering here instead of in a thread: I need the Create Public Threads and Send "
    "Messages in Threads permissions in this channel for that."
)
NO_THREAD = "I'm answering here instead of in a thread: Discord would not open one just now."
RESET_MARKER = "🧹 Conversation reset."
RESET_DONE = RESET_MARKER + " I won't use anything said in this channel before this point."

_EARLIER_ATTACHMENTS_NOTICE = "I can only read text for now. Please type your question."
"""Posted by versions that did not read attachments; still a notice in a rebuilt history."""

_FIXED = (
    EMPTY_MENTION, STICKERS_ONLY, _EARLIER_ATTACHMENTS_NOTICE, NO_THREAD_PERMISSIONS, NO_THREAD
)
_PREFIXES = (COOLDOWN.split("{", 1)[0], BUDGET_REACHED.split("{", 1)[0], RESET_MARKER)


def is_notice(content: str) -> bool:
    return content in _FIXED or content.startswith(_PREFIXES)
