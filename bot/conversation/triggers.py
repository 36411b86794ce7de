"""Deciding whether a Discord message is addressed to the bot, and reducing it to a Prompt.

This is the privacy boundary of the bot: a message for which :func:`classify` returns
``None`` is neither answered nor sent to analytics, so it must stay strict. Only people
count (never the bot itself, other bots, webhooks or system messages), and only when they
clearly speak to the bot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet

import discord

from bot.attachments.kinds import AttachmentRef
from bot.config.settings import Settings
from bot.conversation.exchange import Prompt, Trigger

_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]")
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")
_CONVERSATION_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def replied_to_bot(message: discord.Message, bot_id: int) -> bool:
    resolved = replied_message(message)
    return resolved is not None and resolved.author.id == bot_id


def own_role(role: discord.Role, bot_id: int) -> bool:
    """The role Discord manages for the bot (``tags.bot_id``): its autocomplete offers it
    next to the bot's user, and people pick either to address the bot."""
    tags = role.tags
    return tags is not None and tags.bot_id == bot_id


def mentions_bot(message: discord.Message, bot_id: int) -> bool:
    return any(user.id == bot_id for user in message.mentions) or any(
        own_role(role, bot_id) for role in message.role_mentions
    )


def in_chat_channel(channel: object, settings: Settings) -> bool:
    """Chat channels answer everything, and so do threads started under them."""
    channel_id = getattr(channel, "id", None)
    parent_id = getattr(channel, "parent_id", None)
    return bool({channel_id, parent_id} & settings.chat_channel_ids)


def bot_thread(channel: object, bot_id: int) -> bool:
    """A thread the bot opened on a question (``owner_id`` is who created it, so this holds
    after a restart too): everything said in it is part of that question's conversation."""
    return isinstance(channel, discord.Thread) and channel.owner_id == bot_id


def classify(
    message: discord.Message, bot_user: discord.abc.User, settings: Settings
) -> Trigger | None:
    """Why the bot should answer ``message``, or ``None`` when it must stay silent."""
    author = message.author
    if author.bot or message.webhook_id is not None or message.type not in _CONVERSATION_TYPES:
        return None
    if message.guild is None:
        return Trigger.DM if settings.answer_dms else None
    if not settings.guild_allowed(message.guild.id):
        return None
    mentioned = mentions_bot(message, bot_user.id)
    readable = mentioned or settings.message_content_intent
    if readable and replied_to_bot(message, bot_user.id):
        return Trigger.REPLY
    if mentioned:
        return Trigger.MENTION
    if not settings.message_content_intent:
        return None
    if bot_thread(message.channel, bot_user.id):
        return Trigger.BOT_THREAD
    if in_chat_channel(message.channel, settings):
        return Trigger.CHAT_CHANNEL
    return None


def readable_text(message: discord.Message, bot_id: int) -> str:
    """The message as the model should read it: the bot's own mention (user or managed
    role) removed, other mentions turned into names (so the model cannot echo a ping)."""
    guild = message.guild

    def channel_name(channel_id: int) -> str:
        channel = guild.get_channel_or_thread(channel_id) if guild else None
        return channel.name if channel else "channel"

    return visible(
        named_mentions(
            message.content,
            users={user.id: user.display_name for user in message.mentions if user.id != bot_id},
            roles={
                role.id: role.name for role in message.role_mentions if not own_role(role, bot_id)
            },
            removed={bot_id},
            removed_roles={role.id for role in message.role_mentions if own_role(role, bot_id)},
            channel_name=channel_name,
        )
    )


def named_mentions(
    content: str,
    *,
    users: Mapping[int, str],
    roles: Mapping[int, str],
    removed: AbstractSet[int],
    removed_roles: AbstractSet[int],
    channel_name: Callable[[int], str],
) -> str:
    """Mentions as names; ``removed`` ones (the bot's) dropped. One pass per kind, linear.

    Whatever else looks like a mention afterwards (typed by hand, or formed where a removed
    mention joined its neighbours, as in ``<<@bot>@123>``) loses its ``<@`` so it cannot
    ping if the model repeats it.
    """

    def user_name(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        return "" if user_id in removed else "@" + users.get(user_id, "someone")

    def role_name(match: re.Match[str]) -> str:
        role_id = int(match.group(1))
        return "" if role_id in removed_roles else "@" + roles.get(role_id, "role")

    text = _USER_MENTION.sub(user_name, content)
    text = _ROLE_MENTION.sub(role_name, text)
    text = _CHANNEL_MENTION.sub(lambda match: "#" + channel_name(int(match.group(1))), text)
    return text.replace("<@", "< @")


def visible(text: str) -> str:
    """``text`` stripped, or empty when nothing in it would show. Invisible characters
    inside real text stay: joiners build emoji and shape scripts such as Persian."""
    text = text.strip()
    return text if _ZERO_WIDTH.sub("", text).strip() else ""


def channel_label(channel: object) -> str:
    return getattr(channel, "name", None) or "direct-message"


def thread_parent(channel: object) -> int | None:
    """The channel a thread sits under (it follows that channel's persona and model)."""
    return channel.parent_id if isinstance(channel, discord.Thread) else None


def parent_label(channel: object) -> str | None:
    """The name of a thread's parent channel, when discord.py has it cached."""
    parent = channel.parent if isinstance(channel, discord.Thread) else None
    return parent.name if parent is not None else None


def attachment_refs(message: discord.Message) -> tuple[AttachmentRef, ...]:
    return tuple(AttachmentRef.of(attachment) for attachment in message.attachments)


def replied_message(message: discord.Message) -> discord.Message | None:
    reference = message.reference
    resolved = reference.resolved if reference else None
    return resolved if isinstance(resolved, discord.Message) else None


def replied_refs(message: discord.Message) -> tuple[AttachmentRef, ...]:
    """The attachments of the message ``message`` replies to: the model sees them too."""
    replied = replied_message(message)
    return attachment_refs(replied) if replied is not None else ()


def prompt_from_message(
    message: discord.Message, trigger: Trigger, bot_id: int, max_chars: int
) -> Prompt:
    """The attachments come from the attachment objects only, never from links in the text
    or embeds: those are Discord's own CDN URLs, the only ones the bot fetches."""
    text = readable_text(message, bot_id)
    guild = message.guild
    return Prompt(
        text=text[:max_chars],
        message_id=message.id,
        created_at=message.created_at,
        user_id=message.author.id,
        user_name=message.author.display_name,
        username=message.author.name,
        account_name=message.author.global_name or message.author.name,
        channel_id=message.channel.id,
        channel_name=channel_label(message.channel),
        guild_id=guild.id if guild else None,
        guild_name=guild.name if guild else None,
        trigger=trigger,
        truncated=len(text) > max_chars,
        parent_id=thread_parent(message.channel),
        parent_name=parent_label(message.channel),
        attachment_refs=attachment_refs(message),
        replied_refs=replied_refs(message),
    )


def prompt_from_interaction(interaction: discord.Interaction, text: str, max_chars: int) -> Prompt:
    """``/ask`` prompts: the interaction id stands in for the message id."""
    clean = visible(text)
    guild = interaction.guild
    return Prompt(
        text=clean[:max_chars],
        message_id=interaction.id,
        created_at=interaction.created_at,
        user_id=interaction.user.id,
        user_name=interaction.user.display_name,
        username=interaction.user.name,
        account_name=interaction.user.global_name or interaction.user.name,
        channel_id=interaction.channel_id or 0,
        channel_name=channel_label(interaction.channel),
        guild_id=guild.id if guild else interaction.guild_id,
        guild_name=guild.name if guild else None,
        trigger=Trigger.SLASH,
        truncated=len(clean) > max_chars,
        parent_id=thread_parent(interaction.channel),
        parent_name=parent_label(interaction.channel),
    )
