"""From a channel's stored settings to the :class:`Voice` its prompts are answered with.

The persona's name is what Greenflash segments conversations on: ``"default"`` without a
persona, else the channel that set it and the first hex digits of its text's SHA-256, so
an edited persona is a new name (and a new prompt version) while the same text keeps one.

Each voice is also a prompt Greenflash versions and compares (``prompts.get_prompt_analytics``,
``/persona stats``): ``persona:<guild>:<hash of the persona text>`` for a persona, so the
same text anywhere in a guild is one prompt and a changed text a new one, and
``default:<hash of SYSTEM_PROMPT>`` for the operator's default; its components are the
operator's ``SYSTEM_PROMPT`` and the persona, apart.
"""

from __future__ import annotations

import hashlib

from bot.conversation.exchange import PromptPart, Voice
from bot.storage import ChannelSettings

DEFAULT_PERSONA = "default"
PART_NAMES = ("system_prompt", "persona")
PROMPT_HASH_CHARS = 12


def _digest(text: str, chars: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:chars]


def persona_name(persona: str | None, channel_id: int | None) -> str:
    """``channel_id``: the channel the persona was set for."""
    if persona is None:
        return DEFAULT_PERSONA
    return f"channel-{channel_id}-{_digest(persona, 8)}"


def prompt_id(guild_id: int | None, persona: str | None, framing: str) -> str:
    """The external prompt id of the persona (as stored) in a guild, or of the operator's
    default prompt."""
    if persona is None:
        return f"default:{_digest(framing, PROMPT_HASH_CHARS)}"
    return f"persona:{guild_id}:{_digest(persona, PROMPT_HASH_CHARS)}"


def voice_of(settings: ChannelSettings, framing: str, guild_id: int | None = None) -> Voice:
    """``framing`` is the operator's ``SYSTEM_PROMPT``, which every persona follows;
    ``guild_id`` the guild the channel is in (``None`` in DMs, which have no persona)."""
    return Voice(
        settings.model,
        settings.system_prompt(framing),
        persona_name(settings.persona, settings.persona_channel_id),
        prompt_id(guild_id, settings.persona, framing),
        tuple(PromptPart(name, content) for name, content
              in zip(PART_NAMES, settings.prompt_parts(framing), strict=False)),
    )


def default_voice(model: str, framing: str) -> Voice:
    """The operator's model and prompt, where no channel setting applies."""
    return voice_of(ChannelSettings(None, None, model, "default"), framing)
