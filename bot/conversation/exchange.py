"""Plain values describing one exchange with the bot, shared by every side of it.

The receiving side (the client's ``on_message``, the ``/ask`` command) turns a Discord
message or interaction into a :class:`Prompt`; the chat cog turns the model's answer into a
:class:`Reply`. Analytics and the model layer take only these, never Discord objects, so
they can be tested and reused without a gateway connection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.attachments.kinds import AttachmentBatch, AttachmentRef
from bot.replies.splitting import close_open_fence

LENGTH_NOTE = "⚠️ *The answer was cut short (token limit).*"


class Trigger(enum.StrEnum):
    """Why the bot answered: recorded in analytics so teams can segment on it."""

    MENTION = "mention"
    REPLY = "reply"
    DM = "dm"
    CHAT_CHANNEL = "chat_channel"
    BOT_THREAD = "bot_thread"
    SLASH = "slash_command"


@dataclass(frozen=True, slots=True)
class PromptPart:
    """One named piece of a system prompt (the operator's framing, a persona), kept apart
    so Greenflash can version each prompt by its components."""

    name: str
    content: str


@dataclass(frozen=True, slots=True)
class Voice:
    """Who answers where a prompt was asked: the model and the whole system prompt the
    model gets there, and the persona's name for analytics (``"default"`` without one).
    ``prompt_id`` is the prompt's external id in Greenflash and ``parts`` its pieces, which
    joined make ``system_prompt``; without an id analytics log the prompt as flat text."""

    model: str
    system_prompt: str
    persona: str = "default"
    prompt_id: str | None = None
    parts: tuple[PromptPart, ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    """A user's message to the bot, reduced to what the model and analytics need.

    ``user_name`` is the name shown where they wrote (a guild nickname if they have one),
    ``account_name`` the account-wide one (``global_name``, else ``username``): the first
    labels the message, the second identifies the person once, whichever guild they are in.
    ``parent_id`` is a thread's parent channel (whose persona the thread follows) and
    ``parent_name`` its name;
    ``voice`` is filled in by the receiving side once the channel's settings are read, and
    ``admin`` says the author may change them (and so may be exempt from budgets).

    ``attachment_refs`` are the question's attachments and ``replied_refs`` those of the
    message it replies to, as Discord describes them; ``attachments`` is what was made of
    both once downloaded (filled by the receiving side before the reply and the log use it).
    """

    text: str
    message_id: int
    created_at: datetime
    user_id: int
    user_name: str
    username: str
    account_name: str
    channel_id: int
    channel_name: str
    guild_id: int | None
    guild_name: str | None
    trigger: Trigger
    truncated: bool = False
    parent_id: int | None = None
    parent_name: str | None = None
    admin: bool = False
    voice: Voice | None = None
    attachment_refs: tuple[AttachmentRef, ...] = ()
    replied_refs: tuple[AttachmentRef, ...] = ()
    attachments: AttachmentBatch = field(default_factory=AttachmentBatch)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """What a reply costs against a daily token budget (0 when the server said nothing)."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is its JSON text as sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Completion:
    """The model's answer. ``finish_reason`` is the API's own ("stop", "length",
    "tool_calls", ...); ``tool_calls`` is what the model asked to run instead of answering."""

    text: str
    model: str
    usage: Usage
    finish_reason: str | None = None
    refused: bool = False
    images_dropped: bool = False
    """The server refused the images, and this answer came from a retry without them."""
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def cut_off(self) -> bool:
        """The token limit ended the answer: the user must not take it as complete."""
        return self.finish_reason == "length"

    @property
    def shown_text(self) -> str:
        """The text as the user should see it: a cut-short answer says so at its end."""
        if not self.cut_off:
            return self.text
        return f"{close_open_fence(self.text)}\n\n{LENGTH_NOTE}"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the user actually saw, once the last part of the reply was on Discord."""

    text: str
    message_ids: tuple[int, ...]
    created_at: datetime
    model: str
    latency_ms: int
    usage: Usage = field(default_factory=Usage)
    cut_off: bool = False
    finish_reason: str | None = None
    refused: bool = False
    images_dropped: bool = False
    """The AI service refused the question's images, so it was answered from the text."""
    delivery: str = "messages"
    after_step: str | None = None
    """The last agent step's Greenflash id when tools were used: the answer is then the
    run's ``final_response``, threaded to it."""
    tool_calls: int = 0
    sources: tuple[str, ...] | None = None
    """The knowledge sources the model was shown; ``None`` when no knowledge was searched,
    empty when a search found nothing (a hole in the docs)."""

    @property
    def message_id(self) -> int:
        """The first Discord message of the reply: the id feedback and analytics use."""
        return self.message_ids[0]
