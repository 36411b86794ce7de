"""From a channel's stored settings to the :class:`Voice` its prompts are answered with.

The persona's name is what Greenflash segments conversations on: ``"default"`` without a
persona, else the channel that set it and the first hex digits of its text's SHA-256, so
an edited persona is a new name (and a new prompt version) while the same text keeps one.
"""

from __future__ import annotations

import hashlib

from bot.conversation.exchange import Voice
from bot.storage import ChannelSettings

DEFAULT_PERSONA = "default"


def persona_name(persona: str | None, channel_id: int | None) -> str:
    """``channel_id``: the channel the persona was set for."""
    if persona is None:
        return DEFAULT_PERSONA
    digest = hashlib.sha256(persona.encode()).hexdigest()[:8]
    return f"channel-{channel_id}-{digest}"


def voice_of(settings: ChannelSettings, framing: str) -> Voice:
    """``framing`` is the operator's ``SYSTEM_PROMPT``, which every persona follows."""
    return Voice(
        settings.model,
        settings.system_prompt(framing),
        persona_name(settings.persona, settings.persona_channel_id),
    )
