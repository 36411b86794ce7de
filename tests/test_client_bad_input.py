"""A corpus of hostile, odd and broken input, each case with its outcome declared up front.

Every case runs against its own bot (start-up is a fraction of a second), with replies
streamed as in production unless the case says otherwise, and ends the same way: a sentinel
mention from Bob after the case must still be answered (no crash), the bot is closed (so
replies and analytics have drained), and then the final state is checked:

* ``ANSWERED``: one reply to the case's message (or ``/ask``) exists, in parts that are each
  1..2000 characters, made from one model call, and Greenflash holds the prompt and the
  answer exactly once.
* ``IGNORED``: no reply, no model call, and no Greenflash request at all for it.
* ``NOTICE``: exactly one reply with a fixed text (ephemeral for slash commands), no model
  call and nothing logged as a message (unless the text is the polite sentence for a model
  call that failed, which then was made once).
* ``WITHDRAWN``: a reply that was under way when the prompt was deleted is gone, and no
  assistant message was logged.

And for every case: every message-bearing request the bot made to Discord (channel sends and
edits, interaction callbacks, followups and their edits) carries ``allowed_mentions ==
{"parse": []}``, Discord never had to reject one of the bot's requests, and nothing was
logged at ERROR level (no "Ignoring exception", no "Task exception was never retrieved").
"""

from __future__ import annotations

import asyncio
import enum
import gc
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.config.settings import Settings
from bot.conversation.failures import POLITE, FailureKind
from bot.conversation.notices import EMPTY_MENTION, STICKERS_ONLY
from bot.runtime.command_tree import BAD_OPTIONS, NOT_HERE
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import answers_to, barrier, until
from tests.standins.discord_server import (
    BETA_CHANNEL,
    BOB,
    BOT_ID,
    CAROL,
    CHAT_CHANNEL,
    CHAT_THREAD,
    DM_ALICE,
    DM_CAROL,
    GENERAL_CHANNEL,
    GUILD_A,
    OTHER_BOT,
    THREAD,
    Interaction,
    RecordedRequest,
)
from tests.standins.discord_world import BOT_ROLE_A
from tests.standins.greenflash_server import Recorded

Subject = dict[str, Any] | Interaction
"""What a case produced: the user's message as dispatched, or the slash interaction."""


@dataclass
class Run:
    """One case's run: the stand-ins, and where the case proper starts in their records
    (an act that first sets the scene calls :meth:`mark` once the scene is set)."""

    stands: Stands
    model_calls_before: int = 0
    started: float = 0.0

    def mark(self) -> None:
        self.model_calls_before = len(self.stands.openai.requests)
        self.started = time.monotonic()


Act = Callable[[Run], Awaitable[Subject]]

NO_PINGS = {"parse": []}
EPHEMERAL = 1 << 6
DISCORD_LIMIT = 2000  # characters in a message's content, Discord's "Create Message" docs
PROMPT_LIMIT = Settings.model_fields["max_prompt_chars"].default  # MAX_PROMPT_CHARS's default
SENTINEL = "sentinel-question"
PING_BAIT = f"@everyone @here <@&{GUILD_A}> <@&{BOT_ROLE_A}> <@{BOB['id']}> <@{BOT_ID}>"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


class Expect(enum.Enum):
    ANSWERED = "answered"
    IGNORED = "ignored"
    NOTICE = "notice"
    WITHDRAWN = "withdrawn"


@dataclass
class Seen:
    """What happened for one case's subject, read after the bot closed."""

    subject: Subject
    model_calls: list[dict[str, Any]]  # OpenAI request bodies made for it
    replies: list[dict[str, Any]]  # the bot's messages answering it, as they are now
    withdrawn: list[dict[str, Any]]  # the bot's messages answering it that were deleted
    logged: list[dict[str, Any]]  # Greenflash message items about it (prompt or answer)
    analytics_calls: list[Recorded]  # every Greenflash request not caused by the sentinel

    def logged_as(self, role: str) -> list[dict[str, Any]]:
        return [item for item in self.logged if item["role"] == role]


Check = Callable[[Seen], None]


@dataclass(frozen=True)
class Case:
    act: Act
    expect: Expect
    notice: str | None = None  # the fixed text, for NOTICE
    model_says: str | None = None  # the model's answer to the case (default: an echo)
    settings: dict[str, Any] = field(default_factory=dict)
    check: Check | None = None  # anything more specific to the case
    discord_may_refuse: bool = False  # the case deletes a bot message the bot still edits


# -- acting ---------------------------------------------------------------------------------


def mention(text: str, channel_id: int = GENERAL_CHANNEL, **kwargs: Any) -> Act:
    async def act(run: Run) -> Subject:
        return await run.stands.discord.send_message(channel_id, text, mention_bot=True,
                                                     **kwargs)

    return act


def say(channel_id: int, text: str, **kwargs: Any) -> Act:
    async def act(run: Run) -> Subject:
        return await run.stands.discord.send_message(channel_id, text, **kwargs)

    return act


def slash(name: str, options: dict[str, object] | list[dict[str, Any]] | None = None,
          **kwargs: Any) -> Act:
    async def act(run: Run) -> Subject:
        return await run.stands.discord.slash_command(name, options, **kwargs)

    return act


async def fully_answered(stands: Stands, message_id: str) -> None:
    """Until Greenflash holds the answer to ``message_id``, so the reply is complete."""
    await until(lambda: [item for item in stands.greenflash.stored_messages()
                         if item.get("parentExternalMessageId") == message_id],
                f"the answer to {message_id} to be logged")


async def first_answer(stands: Stands, message_id: str) -> dict[str, Any]:
    """The first message of the bot's answer (reply or notice) to ``message_id``."""
    found = await until(lambda: answers_to(stands.discord, message_id),
                        f"an answer to {message_id}", changed=stands.discord.next_change)
    return found[0]


def reply_to_bot_answer() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        first = await stands.discord.send_message(GENERAL_CHANNEL, "first", mention_bot=True)
        await fully_answered(stands, first["id"])
        bot_message = answers_to(stands.discord, first["id"])[0]
        run.mark()
        return await stands.discord.send_message(
            GENERAL_CHANNEL, "and a follow-up", reply_to=int(bot_message["id"])
        )

    return act


def reply_to_bot_notice() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        bare = await stands.discord.send_message(GENERAL_CHANNEL, "", mention_bot=True)
        notice = await first_answer(stands, bare["id"])
        run.mark()
        return await stands.discord.send_message(
            GENERAL_CHANNEL, "what can you do?", reply_to=int(notice["id"])
        )

    return act


def reply_to_someone_else(channel_id: int, *, bob_answered: bool = False) -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        bobs = await stands.discord.send_message(channel_id, "bob's thought", author=BOB)
        if bob_answered:
            await fully_answered(stands, bobs["id"])
        run.mark()
        return await stands.discord.send_message(
            channel_id, "I disagree with this", reply_to=int(bobs["id"])
        )

    return act


def slow_stream(stands: Stands) -> None:
    """A reply that takes about a second to stream, so it can be interfered with."""
    stands.openai.chunk_size = 5
    stands.openai.chunk_delay = 0.02


def edit_mid_reply(new_content: str) -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        slow_stream(stands)
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        await first_answer(stands, sent["id"])
        await stands.discord.edit_message(GENERAL_CHANNEL, int(sent["id"]), new_content)
        return sent

    return act


def edit_before_reply() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        stands.openai.latency = 0.3
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        await stands.openai.wait_for_requests(1)
        await stands.discord.edit_message(
            GENERAL_CHANNEL, int(sent["id"]), f"<@{BOT_ID}> no, tell me something else"
        )
        return sent

    return act


def plain_message_edited_into_a_mention() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "hello all")
        # A bare mention's notice proves the bot has handled the plain message (events are
        # handled in order) before it is edited; the notice needs no model and no analytics.
        barrier = await stands.discord.send_message(GENERAL_CHANNEL, "", mention_bot=True)
        await first_answer(stands, barrier["id"])
        await stands.discord.edit_message(
            GENERAL_CHANNEL, int(sent["id"]), f"<@{BOT_ID}> hello bot"
        )
        return sent

    return act


def delete_mid_reply() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        slow_stream(stands)
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        await first_answer(stands, sent["id"])
        await stands.discord.delete_message(GENERAL_CHANNEL, int(sent["id"]))
        return sent

    return act


def delete_while_first_part_in_flight() -> Act:
    """Discord often delivers gateway events before the REST response they follow: here the
    user's delete reaches the bot while its first part is created but the answer to its POST
    is still on the way back (the stand-in's ``_publish`` stores and echoes a bot message)."""

    async def act(run: Run) -> Subject:
        discord = run.stands.discord
        publish = discord._publish
        prompt: dict[str, Any] = {}

        async def publish_then_lag(message: dict[str, Any]) -> None:
            await publish(message)
            answering = (message.get("message_reference") or {}).get("message_id")
            if answering == prompt.get("id") and discord.world.find(int(answering)):
                await discord.delete_message(GENERAL_CHANNEL, int(answering))
                await asyncio.sleep(0.3)  # the response to the POST is still on its way

        discord._publish = publish_then_lag  # type: ignore[method-assign]
        prompt.update(await discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True))
        await until(lambda: prompt["id"] in map(str, discord.deleted_message_ids),
                    "the prompt to be deleted", changed=discord.next_change)
        return prompt

    return act


def moderator_deletes_the_reply_mid_stream() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        slow_stream(stands)
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        first = await first_answer(stands, sent["id"])
        await stands.discord.delete_message(GENERAL_CHANNEL, int(first["id"]))
        return sent

    return act


def delete_before_reply() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        stands.openai.latency = 0.5
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        await stands.openai.wait_for_requests(1)
        await stands.discord.delete_message(GENERAL_CHANNEL, int(sent["id"]))
        return sent

    return act


def delete_after_reply() -> Act:
    async def act(run: Run) -> Subject:
        stands = run.stands
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "tell me", mention_bot=True)
        await fully_answered(stands, sent["id"])
        await stands.discord.delete_message(GENERAL_CHANNEL, int(sent["id"]))
        return sent

    return act


# -- case-specific checks -------------------------------------------------------------------


def model_read(*fragments: str, absent: tuple[str, ...] = ()) -> Check:
    """The model's copy of the prompt contains ``fragments`` and none of ``absent``."""

    def check(seen: Seen) -> None:
        (call,) = seen.model_calls
        prompt = call["messages"][-1]["content"]
        for fragment in fragments:
            assert fragment in prompt, (fragment, prompt[:200])
        for fragment in absent:
            assert fragment not in prompt, (fragment, prompt[:200])

    return check


def prompt_truncated(text: str) -> Check:
    """The model and Greenflash got the first ``MAX_PROMPT_CHARS`` of ``text``, flagged."""
    kept = text.strip()[:PROMPT_LIMIT]

    def check(seen: Seen) -> None:
        (call,) = seen.model_calls
        assert call["messages"][-1]["content"] == "Alice: " + kept
        (user,) = seen.logged_as("user")
        assert user["properties"]["truncated"] is True
        assert user["content"] == kept

    return check


def reply_shows(text: str) -> Check:
    def check(seen: Seen) -> None:
        shown = "".join(reply["content"] for reply in seen.replies)
        assert text in shown, (text, shown[:200])

    return check


def split_at_the_limit(answer: str) -> Check:
    """An ``answer`` with no line breaks to split at comes in as few parts as Discord's
    limit allows, and nothing of it is lost."""

    def check(seen: Seen) -> None:
        parts = [reply["content"] for reply in seen.replies]
        assert len(parts) == math.ceil(len(answer) / DISCORD_LIMIT), [len(p) for p in parts]
        assert "".join(parts) == answer

    return check


def posted_then_removed(seen: Seen) -> None:
    assert seen.withdrawn, "a part of the reply was on Discord before the prompt was deleted"


def reposted_in_full(seen: Seen) -> None:
    """The streamed part a moderator deleted is posted anew, and the answer completed."""
    (reply,) = seen.replies
    assert reply["content"] == "Streaming along. " * 20
    (answer,) = seen.logged_as("assistant")
    assert answer["content"] == reply["content"]


def never_posted(seen: Seen) -> None:
    assert seen.withdrawn == []


def both(*checks: Check) -> Check:
    def check(seen: Seen) -> None:
        for each in checks:
            each(seen)

    return check


# -- the corpus -----------------------------------------------------------------------------

LONG_TEXT = "lorem ipsum dolor sit amet " * 400  # ~10.8 kB
A = Expect.ANSWERED
I = Expect.IGNORED  # noqa: E741 - reads as the column it is in the table below
N = Expect.NOTICE
W = Expect.WITHDRAWN
STICKER = {"id": "749054660769218631", "name": "Wave", "format_type": 1}
PNG = {"filename": "cat.png", "content_type": "image/png"}

CASES: dict[str, Case] = {
    # empty and invisible
    "bare-mention": Case(mention(""), N, EMPTY_MENTION),
    "mention-and-whitespace": Case(mention("   \n\t  "), N, EMPTY_MENTION),
    "mention-and-zero-width": Case(mention(ZERO_WIDTH * 3), N, EMPTY_MENTION),
    "nickname-mention-only": Case(say(GENERAL_CHANNEL, f"<@!{BOT_ID}>"), N, EMPTY_MENTION),
    "zero-width-in-chat-channel": Case(say(CHAT_CHANNEL, ZERO_WIDTH), I),
    "soft-hyphen-dm": Case(say(DM_ALICE, "\u00ad\u034f\u180e"), N, EMPTY_MENTION),
    "spoofed-mention-text": Case(say(GENERAL_CHANNEL, "@standin-bot are you there?"), I),
    "bot-mentioned-three-times": Case(
        say(GENERAL_CHANNEL, f"<@{BOT_ID}> <@!{BOT_ID}> hi <@{BOT_ID}>"), A,
        check=model_read("Alice: hi", absent=("<@",)),
    ),
    "channel-and-unknown-user-mentions": Case(
        mention(f"compare <#{GENERAL_CHANNEL}> with <@123456789012345678>"), A,
        check=model_read("#general", "@someone", absent=("<#", "<@")),
    ),
    "embed-only-in-chat-channel": Case(
        say(CHAT_CHANNEL, "", embeds=[{"title": "Link preview", "description": "..."}]), I),
    "nickname-mention-with-text": Case(
        say(GENERAL_CHANNEL, f"<@!{BOT_ID}> what is 2+2?"), A,
        check=model_read("Alice: what is 2+2?", absent=("<@",)),
    ),
    # size
    "10kB-mention": Case(mention(LONG_TEXT), A, check=prompt_truncated(LONG_TEXT)),
    "10kB-chat-channel": Case(say(CHAT_CHANNEL, LONG_TEXT), A,
                              check=prompt_truncated(LONG_TEXT)),
    "10kB-one-word": Case(mention("x" * 10_000), A, settings={"max_tokens": 4000},
                          check=both(prompt_truncated("x" * 10_000),
                                     split_at_the_limit("echo: Alice: " + "x" * PROMPT_LIMIT))),
    # not text
    "only-attachment": Case(mention("", attachments=[PNG]), A,
                            check=model_read("Alice: What do you make of this?")),
    "only-attachment-chat-channel": Case(say(CHAT_CHANNEL, "", attachments=[PNG]), A,
                                         check=model_read("Alice: What do you make of this?")),
    "only-sticker-mention": Case(mention("", stickers=[STICKER]), N, STICKERS_ONLY),
    "only-sticker-dm": Case(say(DM_ALICE, "", stickers=[STICKER]), N, STICKERS_ONLY),
    "attachment-with-text": Case(mention("what is in this picture?", attachments=[PNG]), A),
    # ping bait in the prompt
    "everyone-bait-in-prompt": Case(
        mention("@everyone @here repeat after me: @everyone", mention_everyone=True), A,
        check=reply_shows("@everyone"),
    ),
    "role-and-user-bait-in-prompt": Case(
        mention(f"say hi to <@{BOB['id']}> and <@&{BOT_ROLE_A}>"), A,
        check=model_read("@Bob", absent=(BOB["id"], str(BOT_ROLE_A))),
    ),
    "everyone-in-chat-channel": Case(say(CHAT_CHANNEL, "@everyone look at this"), A),
    # ping bait in the model's answer
    "model-pings-everyone": Case(mention("say it"), A, model_says="@everyone @here wake up",
                                 check=reply_shows("@everyone @here")),
    "model-pings-roles-and-users": Case(mention("say it"), A, model_says=f"{PING_BAIT} hi",
                                        check=reply_shows(PING_BAIT)),
    "model-pings-in-dm": Case(say(DM_ALICE, "say it"), A, model_says=PING_BAIT),
    "model-pings-6kB": Case(mention("say it a lot"), A, model_says=(PING_BAIT + "\n") * 60,
                            settings={"max_tokens": 4000}),
    "model-pings-not-streamed": Case(mention("say it"), A, model_says=PING_BAIT,
                                     settings={"stream_replies": False}),
    "model-mentions-the-bot-itself": Case(mention("who are you?"), A,
                                          model_says=f"I am <@{BOT_ID}>, hi <@{BOT_ID}>!"),
    "model-pings-via-ask": Case(slash("ask", {"prompt": "say it"}), A, model_says=PING_BAIT),
    "model-pings-mid-stream-edits": Case(
        edit_mid_reply(f"<@{BOT_ID}> {PING_BAIT}"), A, model_says=(PING_BAIT + " ") * 5,
    ),
    # markdown bombs, in and out
    "nested-quotes": Case(mention("> " * 1000 + "deep"), A),
    "nested-spoilers": Case(mention("||" * 1500 + "boo"), A),
    "2000-backticks": Case(mention("`" * 2000), A, settings={"max_tokens": 4000}),
    "unbalanced-fence": Case(mention("```python\nprint('never closed')"), A),
    "nested-fences-in-prompt": Case(mention("````\n```\n" * 300 + "inside?"), A,
                                    settings={"max_tokens": 4000}),
    "model-2000-backticks": Case(mention("backticks please"), A, model_says="`" * 4001,
                                 settings={"max_tokens": 4000},
                                 check=split_at_the_limit("`" * 4001)),
    "model-unbalanced-long-fence": Case(
        mention("code please"), A, settings={"max_tokens": 4000},
        model_says="```python\n" + "\n".join(f"x_{i} = {i}" for i in range(700)),
    ),
    "model-nested-fences": Case(mention("fences"), A, settings={"max_tokens": 4000},
                                model_says="```md\n" * 600),
    "model-spoiler-bomb": Case(mention("spoilers"), A, settings={"max_tokens": 4000},
                               model_says="||" * 2600),
    "model-2001-chars-one-word": Case(mention("long word"), A, model_says="y" * 2001,
                                      settings={"max_tokens": 4000},
                                      check=split_at_the_limit("y" * 2001)),
    "model-3900-chars-one-word": Case(mention("longer word"), A, model_says="z" * 3900,
                                      settings={"max_tokens": 4000},
                                      check=split_at_the_limit("z" * 3900)),
    "model-blank-lines": Case(mention("nothing"), N, POLITE[FailureKind.EMPTY],
                              model_says="\n\n \n\t\n"),
    "model-empty": Case(mention("nothing at all"), N, POLITE[FailureKind.EMPTY], model_says=""),
    # unicode
    "rtl-override": Case(mention("\u202eevil text\u202c and \u2066isolate\u2069"), A,
                         check=model_read("\u202eevil text")),
    "emoji-storm": Case(mention("🔥" * 1500), A, settings={"max_tokens": 4000}),
    "combining-marks": Case(mention("Z" + "\u0336\u0301\u0489" * 1500), A,
                            check=model_read("Z\u0336")),
    "control-characters": Case(mention("nul\x00 bell\x07 escape\x1b[31m"), A),
    "zwj-emoji-and-zwnj-script": Case(
        mention("is 👩\u200d💻 or 🏳\ufe0f\u200d🌈 in می\u200cخواهم ok?"), A,
        check=model_read("👩\u200d💻", "🏳\ufe0f\u200d🌈", "می\u200cخواهم"),
    ),
    # authors that are not people
    "webhook-mention": Case(mention("hook says hi", webhook_id=1_200_000_000_000_000_001), I),
    "webhook-in-chat-channel": Case(
        say(CHAT_CHANNEL, "deploy done", webhook_id=1_200_000_000_000_000_002), I),
    "other-bot-mention": Case(mention("beep", author=OTHER_BOT), I),
    "other-bot-in-chat-channel": Case(say(CHAT_CHANNEL, "boop", author=OTHER_BOT), I),
    # System messages carry text a model could answer (a thread's name for type 18; the
    # others are given some here): only the type filter may keep them from being answered.
    "member-join-system-message": Case(say(CHAT_CHANNEL, "Carol joined, say hi", message_type=7),
                                       I),
    "pin-system-message": Case(say(CHAT_CHANNEL, "what is pinned?", message_type=6), I),
    "thread-created-system-message": Case(say(CHAT_CHANNEL, "Weekend plans?", message_type=18),
                                          I),
    # Discord's autocomplete offers the bot's managed role next to the bot: it addresses it.
    "role-mention-of-the-bot-role": Case(
        say(GENERAL_CHANNEL, f"<@&{BOT_ROLE_A}> hi"), A,
        check=model_read("Alice: hi", absent=("<@&", "@Test"))),
    # edits and deletes
    "edit-mid-reply": Case(edit_mid_reply(f"<@{BOT_ID}> forget that"), A,
                           model_says="A long enough answer to be streamed. " * 8),
    "edit-before-reply": Case(edit_before_reply(), A),
    "edit-adds-mention": Case(plain_message_edited_into_a_mention(), I),
    "delete-mid-reply": Case(delete_mid_reply(), W, model_says="Streaming along. " * 20,
                             check=posted_then_removed),
    "delete-before-reply": Case(delete_before_reply(), W, check=never_posted),
    "delete-while-first-part-in-flight": Case(delete_while_first_part_in_flight(), W,
                                              check=posted_then_removed),
    "delete-while-unstreamed-reply-in-flight": Case(
        delete_while_first_part_in_flight(), W, settings={"stream_replies": False},
        check=posted_then_removed),
    "moderator-deletes-the-reply-mid-stream": Case(
        moderator_deletes_the_reply_mid_stream(), A, model_says="Streaming along. " * 20,
        discord_may_refuse=True, check=reposted_in_full),
    "delete-after-reply": Case(delete_after_reply(), A),
    # replies
    "reply-to-the-bot": Case(reply_to_bot_answer(), A),
    "reply-to-a-bot-notice": Case(reply_to_bot_notice(), A),
    "reply-to-someone-else": Case(reply_to_someone_else(GENERAL_CHANNEL), I),
    "reply-to-someone-else-in-thread": Case(reply_to_someone_else(THREAD), I),
    "reply-to-someone-in-chat-thread": Case(
        reply_to_someone_else(CHAT_THREAD, bob_answered=True), A),
    # where
    "dm-from-stranger": Case(say(DM_CAROL, "hello, we share no server"), A),
    "guild-not-allowed": Case(mention("hello?", BETA_CHANNEL), I,
                              settings={"allowed_guild_ids": frozenset({GUILD_A})}),
    "dm-when-dms-off": Case(say(DM_ALICE, "hello?"), I, settings={"answer_dms": False}),
    # slash commands
    "ask-unknown-option": Case(slash("ask", [{"name": "question", "type": 3, "value": "hi"}]),
                               N, BAD_OPTIONS),
    "ask-no-options": Case(slash("ask", []), N, BAD_OPTIONS),
    "ask-wrong-option-type": Case(slash("ask", [{"name": "prompt", "type": 4, "value": 5}]),
                                  N, BAD_OPTIONS),
    "ask-zero-width": Case(slash("ask", {"prompt": ZERO_WIDTH}), N,
                           "Please type a question after `/ask`."),
    "ask-empty-string": Case(slash("ask", [{"name": "prompt", "type": 3, "value": ""}]), N,
                             BAD_OPTIONS),
    "ask-extra-unknown-option": Case(
        slash("ask", [{"name": "prompt", "type": 3, "value": "hi"},
                      {"name": "temperature", "type": 10, "value": 9.5}]), N, BAD_OPTIONS),
    "ask-over-max-length": Case(slash("ask", {"prompt": LONG_TEXT}), N, BAD_OPTIONS),
    "ask-4000-chars": Case(slash("ask", {"prompt": "q" * 4000}), A),
    "ask-everyone-bait": Case(slash("ask", {"prompt": "@everyone " + PING_BAIT}), A),
    "ask-from-stranger-dm": Case(slash("ask", {"prompt": "hi"}, user=CAROL, channel_id=DM_CAROL),
                                 A),
    "ask-guild-not-allowed": Case(slash("ask", {"prompt": "hi"}, channel_id=BETA_CHANNEL), N,
                                  NOT_HERE, settings={"allowed_guild_ids": frozenset({GUILD_A})}),
    "ask-dm-when-dms-off": Case(slash("ask", {"prompt": "hi"}, channel_id=DM_ALICE), N,
                                NOT_HERE, settings={"answer_dms": False}),
    "reset-guild-not-allowed": Case(slash("reset", channel_id=BETA_CHANNEL), N, NOT_HERE,
                                    settings={"allowed_guild_ids": frozenset({GUILD_A})}),
    "unknown-command": Case(slash("dance", {"style": "tango"}), N, BAD_OPTIONS),
    "feedback-rating-as-text": Case(
        slash("feedback", [{"name": "rating", "type": 3, "value": "great"}]), N, BAD_OPTIONS),
    "feedback-rating-out-of-range": Case(slash("feedback", {"rating": 9}), N, BAD_OPTIONS),
    "feedback-rating-as-boolean": Case(
        slash("feedback", [{"name": "rating", "type": 4, "value": True}]), N, BAD_OPTIONS),
    "feedback-comment-too-long": Case(slash("feedback", {"rating": 4, "comment": "a" * 3000}), N,
                                      BAD_OPTIONS),
    "feedback-well-formed": Case(slash("feedback", {"rating": 4, "comment": "@everyone ok"}), N,
                                 "Thanks for the feedback (4/5)!"),
}


# -- running a case -------------------------------------------------------------------------

MESSAGE_BEARING = re.compile(
    r"/channels/\d+/messages(/\d+)?|/webhooks/\d+/[^/]+(/messages/[^/]+)?"
)
CALLBACK = re.compile(r"/interactions/\d+/[^/]+/callback")
UNKNOWN_MESSAGE = 10008


def pings_nobody(allowed_mentions: Any) -> bool:
    """``{"parse": []}``, optionally with ``"replied_user": false`` (discord.py adds it to
    replies sent with ``mention_author=False``): no one can be pinged."""
    if not isinstance(allowed_mentions, dict):
        return False
    rest = dict(allowed_mentions)
    if rest.get("replied_user") is False:
        del rest["replied_user"]
    return rest == NO_PINGS


def check_no_pings(stands: Stands) -> int:
    """Every message the bot sent or edited carries allowed_mentions that ping nobody."""
    checked = 0
    for request in stands.discord.requests:
        if request.method not in {"POST", "PATCH"}:
            continue
        body = request.json if isinstance(request.json, dict) else {}
        if MESSAGE_BEARING.fullmatch(request.path):
            assert pings_nobody(body.get("allowed_mentions")), (request, body)
            checked += 1
        elif CALLBACK.fullmatch(request.path) and body.get("type") in (4, 7):
            assert pings_nobody(body["data"].get("allowed_mentions")), (request, body)
            checked += 1
        elif CALLBACK.fullmatch(request.path):
            data = body.get("data") or {}
            assert not data.get("content") and not data.get("embeds"), (request, body)
    return checked


def refused_as_unknown_message(request: RecordedRequest) -> bool:
    """Discord's 404 for a message that is gone (JSON error code 10008)."""
    return request.status == 404 and (request.response or {}).get("code") == UNKNOWN_MESSAGE


def ids_of(subject: Subject) -> set[str]:
    if isinstance(subject, Interaction):
        return {str(subject.id)}
    return {subject["id"]}


def about(item: dict[str, Any], ids: set[str]) -> bool:
    return bool({item.get("externalMessageId"), item.get("parentExternalMessageId")} & ids)


def record_items(record: Recorded) -> list[dict[str, Any]]:
    body = record.json if isinstance(record.json, dict) else {}
    items = body.get("messages")
    return items if isinstance(items, list) else []


def observe(run: Run, subject: Subject, sentinel: dict[str, Any]) -> Seen:
    stands, ids = run.stands, ids_of(subject)
    model_calls = [call for call in stands.openai.requests[run.model_calls_before:]
                   if SENTINEL not in str(call["messages"][-1]["content"])]
    if isinstance(subject, Interaction):
        replies = [message for message_id in subject.message_ids
                   if (message := stands.discord.world.find(message_id)) is not None]
        withdrawn: list[dict[str, Any]] = []
    else:
        replies = answers_to(stands.discord, subject["id"])
        withdrawn = [message for message in answers_to(stands.discord, subject["id"], deleted=True)
                     if message not in replies]
    logged = [item for item in stands.greenflash.stored_messages() if about(item, ids)]
    greenflash = stands.greenflash
    records = [*greenflash.accepted, *greenflash.failed, *greenflash.abandoned]
    sentinels = {sentinel["id"]}
    not_sentinel = [
        record for record in records
        if record.received_at >= run.started
        and not (record.path == "/messages"
                 and all(about(item, sentinels) for item in record_items(record)))
        and not (record.path == "/users" and record.json.get("externalUserId") == BOB["id"])
        and not (record.path == "/organizations"
                 and record.json.get("externalOrganizationId") == str(GUILD_A))
    ]
    return Seen(subject, model_calls, replies, withdrawn, logged, not_sentinel)


def check_outcome(case: Case, seen: Seen) -> None:
    for reply in seen.replies:  # (the stand-in refuses parts over the limit, as Discord does)
        assert reply["content"].strip(), "no blank message"
    if case.expect is Expect.ANSWERED:
        assert seen.replies, "the case was answered"
        assert len(seen.model_calls) == 1, "by one model call"
        assert len(seen.logged_as("user")) == 1, "the prompt was logged once"
        (answer,) = seen.logged_as("assistant")
        assert answer["properties"]["discord_messages"] == len(seen.replies)
        assert answer["externalMessageId"] == seen.replies[0]["id"]
    elif case.expect is Expect.IGNORED:
        assert seen.replies == [] and seen.withdrawn == [], "nothing was posted for it"
        assert seen.model_calls == [], "the model never saw it"
        assert seen.analytics_calls == [], "Greenflash never heard of it"
    elif case.expect is Expect.NOTICE:
        assert [reply["content"] for reply in seen.replies] == [case.notice]
        from_the_model = case.notice in POLITE.values()  # a model call failed politely
        assert len(seen.model_calls) == (1 if from_the_model else 0)
        assert seen.logged_as("assistant") == [], "a notice is not logged as an answer"
        if not from_the_model:
            assert seen.logged == [], "nor is what prompted it"
        if isinstance(seen.subject, Interaction):
            assert all(reply["flags"] & EPHEMERAL for reply in seen.replies)
    else:
        assert seen.replies == [], "no part of the reply is left"
        assert seen.logged_as("assistant") == [], "no answer was logged"
    if case.check is not None:
        case.check(seen)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_bad_input(stands: Stands, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    def model(body: dict[str, Any]) -> str:
        last = str(body["messages"][-1]["content"])
        if SENTINEL in last or case.model_says is None:
            return f"echo: {last}"
        return case.model_says

    stands.openai.reply_with(model)
    settings = bot_settings(stands, **({"stream_replies": True} | case.settings))
    run = Run(stands)
    async with running_bot(stands, settings) as bot:
        run.mark()
        subject = await case.act(run)
        if isinstance(subject, Interaction):
            await subject.wait_for_callback()
        stands.openai.latency = 0.0
        sentinel = await barrier(stands.discord, bot, text=SENTINEL)  # the bot still answers
    gc.collect()

    every_message = stands.discord.sent_messages(include_deleted=True)
    assert check_no_pings(stands) >= len(every_message), "each came from a checked request"
    rejected = [r for r in stands.discord.requests if r.status >= 400
                and not (case.discord_may_refuse and refused_as_unknown_message(r))]
    assert rejected == [], "Discord accepted the bot's requests"
    check_outcome(case, observe(run, subject, sentinel))
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() for record in errors]
    assert "Task exception was never retrieved" not in caplog.text
