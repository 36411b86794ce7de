"""What each Greenflash call carries, built from plain values and nothing else.

Pure functions, kept apart from the sending (:mod:`bot.analytics.calls`) so what reaches
Greenflash can be checked over generated prompts and replies without a server.
"""

from __future__ import annotations

from typing import Any

from greenflash.types import ComponentInputParam, MessageItemParam, SystemPromptParam

from bot.attachments.analytics_fields import (
    attachment_properties,
    greenflash_content,
    greenflash_context,
)
from bot.conversation.exchange import Prompt, Reply, Voice


def conversation_fields(prompt: Prompt, voice: Voice) -> dict[str, Any]:
    """The ``messages.create`` fields shared by both halves of an exchange: who, where,
    and the persona and model in effect there (each persona is its own prompt in
    Greenflash, see :func:`system_prompt`)."""
    fields: dict[str, Any] = {
        "external_user_id": str(prompt.user_id),
        "external_conversation_id": str(prompt.channel_id),
        "model": voice.model,
        "system_prompt": system_prompt(voice),
        "properties": {
            "platform": "discord",
            "channel_name": prompt.channel_name,
            "persona": voice.persona,
            **({"guild_name": prompt.guild_name} if prompt.guild_name else {}),
            **parent_properties(prompt),
        },
    }
    if prompt.guild_id is not None:
        fields["external_organization_id"] = str(prompt.guild_id)
    return fields


def parent_properties(prompt: Prompt) -> dict[str, str]:
    """A thread's conversation names the channel it sits under, so a team sees each
    question's thread next to the channel it was asked in."""
    if prompt.parent_id is None:
        return {}
    named = {"parent_channel_name": prompt.parent_name} if prompt.parent_name else {}
    return {"parent_channel_id": str(prompt.parent_id), **named}


def system_prompt(voice: Voice) -> SystemPromptParam:
    """The voice's prompt as a prompt object (``types/system_prompt_param.py``): its
    external id and one ``system`` component per part, named, so Greenflash versions the
    prompt when a part changes and can compare prompts; the flat text for a voice without
    an id."""
    if voice.prompt_id is None:
        return voice.system_prompt
    components: list[ComponentInputParam] = [
        {"type": "system", "name": part.name, "content": part.content} for part in voice.parts
    ]
    return {"external_prompt_id": voice.prompt_id, "components": components}


def user_item(prompt: Prompt) -> MessageItemParam:
    """The question as a message item; the attached files' text as its ``context`` (the
    SDK's place for what the model read) and the attachments in its properties. Only
    names, types, sizes and file text: the batch's image bytes are never read here."""
    properties: dict[str, object] = {
        "trigger": str(prompt.trigger),
        "truncated": prompt.truncated,
        "discord_user_id": str(prompt.user_id),
        "discord_user_name": prompt.user_name,
        **attachment_properties(prompt.attachments),
    }
    item: MessageItemParam = {
        "role": "user",
        "content": greenflash_content(prompt.text, prompt.attachments),
        "external_message_id": str(prompt.message_id),
        "created_at": prompt.created_at,
        "properties": properties,
    }
    if context := greenflash_context(prompt.attachments):
        item["context"] = context
    return item


def knowledge_properties(sources: tuple[str, ...] | None) -> dict[str, object]:
    """The sources an answer was given, so Greenflash tells answered-from-docs from
    answered-from-nothing; ``knowledge_hit: false`` marks a search that found nothing."""
    if sources is None:
        return {}
    return {"knowledge_sources": list(sources), "knowledge_hit": bool(sources)}


def assistant_item(prompt: Prompt, reply: Reply) -> MessageItemParam:
    """The answer as a message item, threaded to the prompt it answers; after tools, the
    agent run's ``final_response``, threaded to its last step."""
    kind: MessageItemParam = (
        {"message_type": "final_response"} if reply.after_step else {"role": "assistant"}
    )
    return kind | {
        "content": reply.text,
        "external_message_id": str(reply.message_id),
        "parent_external_message_id": reply.after_step or str(prompt.message_id),
        "created_at": reply.created_at,
        "model": reply.model,
        "properties": {
            "trigger": str(prompt.trigger),
            "latency_ms": reply.latency_ms,
            "prompt_tokens": reply.usage.prompt_tokens,
            "completion_tokens": reply.usage.completion_tokens,
            "discord_messages": len(reply.message_ids),
            "cut_off": reply.cut_off,
            "finish_reason": reply.finish_reason,
            "refusal": reply.refused,
            "in_reply_to_user_id": str(prompt.user_id),
            "in_reply_to_user_name": prompt.user_name,
            "delivery": reply.delivery,
            **({"images_dropped": True} if reply.images_dropped else {}),
            **({"tool_calls": reply.tool_calls} if reply.after_step else {}),
            **knowledge_properties(reply.sources),
        },
    }
