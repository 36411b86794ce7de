"""Discord as the reading tools see it: for one person, from where they asked.

This is the one place the agent touches discord.py. Every read goes through
:func:`bot.agent.access.can_read` (and a link first through :func:`link_in_scope`), so a
refusal is decided before anything is fetched and only its reason reaches the model. REST
calls run under :func:`bot.runtime.uncancelled.uncancelled`: a tool's time limit ends the
wait, never a request discord.py has in flight.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.agent.access import ONLY_THIS_DM, Channel, Refused, can_read, link_in_scope
from bot.agent.loop import ToolFailed, ToolRefused
from bot.agent.references import (
    BadReference,
    ChannelRef,
    parse_before,
    parse_channel_ref,
    parse_message_link,
    resolve_channel_name,
)
from bot.runtime.uncancelled import uncancelled

MESSAGE_MAX_CHARS = 1_500
"""One message's text as the model reads it; Discord allows 2 000 (4 000 with Nitro)."""
REPLY_DEPTH = 3
"""How many messages up a reply chain ``read_message`` follows."""


def describe(channel: Channel) -> str:
    """How the model and the person see a place: ``#name``, or "this DM"."""
    name = getattr(channel, "name", None)
    return f"#{name}" if name else "this conversation"


def render(message: discord.Message) -> str:
    """One line per message: time, who, what (attachments named, never fetched)."""
    text = message.content or ("" if message.attachments or message.embeds else "(no text)")
    if len(text) > MESSAGE_MAX_CHARS:
        text = text[:MESSAGE_MAX_CHARS] + "…"
    names = [f"[attachment: {a.filename}]" for a in message.attachments]
    names += ["[embed]" for _ in message.embeds[:1]]
    when = message.created_at.strftime("%Y-%m-%d %H:%M UTC")
    body = " ".join(part for part in (text, *names) if part)
    return f"[{when}] {message.author.display_name}: {body}"


class DiscordReader:
    """Satisfies :class:`bot.agent.tools.ChannelReader` for ``asker`` in ``asked_in``."""

    def __init__(
        self, client: discord.Client, asker: discord.abc.User, asked_in: Channel
    ) -> None:
        self.client = client
        self.asker = asker
        self.asked_in = asked_in

    async def read_channel(self, channel: str, limit: int, before: str | None) -> str:
        try:
            ref = parse_channel_ref(channel)
            before_ref = parse_before(before) if before else None
        except BadReference as error:
            raise ToolFailed(str(error)) from error
        target = await self._channel(ref)
        await self._check(target)
        if before_ref is not None and before_ref.link is not None and (
            before_ref.link.channel_id != target.id
        ):
            raise ToolFailed("'before' links to a message in another channel")
        readable = _messageable(target)
        marker = discord.Object(before_ref.message_id) if before_ref else None

        async def collect() -> list[discord.Message]:
            return [message async for message in readable.history(limit=limit, before=marker)]

        try:
            newest_first = await uncancelled(collect())
        except discord.HTTPException as error:
            raise ToolFailed(f"Discord refused to read {describe(target)} ({error.status})") \
                from error
        lines = [render(message) for message in reversed(newest_first)]
        head = f"{describe(target)}: {len(lines)} message(s), oldest first"
        return "\n".join([head, *lines]) if lines else f"{describe(target)} has no messages"

    async def read_message(self, link: str) -> str:
        try:
            parsed = parse_message_link(link)
        except BadReference as error:
            raise ToolFailed(str(error)) from error
        scope = link_in_scope(parsed, self.asked_in)
        if isinstance(scope, Refused):
            raise ToolRefused(scope.reason)
        target = await self._by_id(parsed.channel_id)
        await self._check(target)
        chain = await self._chain(_messageable(target), parsed.message_id)
        if not chain:
            raise ToolFailed("that message does not exist or was deleted")
        found, *replied = chain
        lines = [f"In {describe(target)}:", render(found)]
        lines += [f"  ↳ in reply to {render(message)}" for message in replied]
        return "\n".join(lines)

    async def _chain(
        self, target: discord.abc.Messageable, message_id: int
    ) -> Sequence[discord.Message]:
        """The message and, up the reply chain in the same channel, what it answers."""
        chain: list[discord.Message] = []
        next_id: int | None = message_id
        while next_id is not None and len(chain) <= REPLY_DEPTH:
            try:
                message = await uncancelled(target.fetch_message(next_id))
            except discord.NotFound:
                break
            except discord.HTTPException as error:
                raise ToolFailed(f"Discord refused to read that message ({error.status})") \
                    from error
            chain.append(message)
            reference = message.reference
            same_channel = reference is not None and reference.channel_id == message.channel.id
            next_id = reference.message_id if reference is not None and same_channel else None
        return chain

    async def _check(self, target: Channel) -> None:
        decision = await can_read(self.asker, target, asked_in=self.asked_in)
        if isinstance(decision, Refused):
            raise ToolRefused(decision.reason)

    async def _channel(self, ref: ChannelRef) -> Channel:
        if ref.here:
            return self.asked_in
        if ref.id is not None:
            return await self._by_id(ref.id)
        guild = getattr(self.asked_in, "guild", None)
        if guild is None:
            raise ToolRefused(ONLY_THIS_DM.reason)
        assert ref.name is not None
        places = [(c.id, c.name) for c in guild.channels if hasattr(c, "history")]
        places += [(t.id, t.name) for t in guild.threads]
        found = resolve_channel_name(ref.name, places)
        if found is None:
            raise ToolFailed(f"there is no channel called #{ref.name} here")
        return await self._by_id(found)

    async def _by_id(self, channel_id: int) -> Channel:
        """A channel or thread from the cache, else from Discord (threads are not all
        cached); one that does not exist is reported like one that cannot be seen, so the
        answer does not reveal what exists elsewhere."""
        found = self.client.get_channel(channel_id)
        if found is None:
            try:
                found = await uncancelled(self.client.fetch_channel(channel_id))
            except (discord.NotFound, discord.Forbidden) as error:
                raise ToolFailed("I can't find that channel") from error
            except discord.HTTPException as error:
                raise ToolFailed(f"Discord refused to look that channel up ({error.status})") \
                    from error
        if not isinstance(found, discord.abc.GuildChannel | discord.Thread | discord.DMChannel):
            raise ToolFailed("I can't read that kind of channel")
        return found


def _messageable(target: Channel) -> discord.abc.Messageable:
    """Categories and forums hold no messages of their own (a forum's posts are threads)."""
    if not isinstance(target, discord.abc.Messageable):
        raise ToolFailed(f"{describe(target)} holds no messages itself; name a channel or post")
    return target
