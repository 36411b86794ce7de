"""How replies are posted: splitting, no pings, failures, cooldowns and bad input."""

from __future__ import annotations

import math
import re

import pytest

from bot.client import ChatBot
from bot.config.settings import Settings
from bot.conversation.failures import POLITE, FailureKind
from bot.conversation.notices import COOLDOWN, EMPTY_MENTION, STICKERS_ONLY
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import barrier, pings_nobody, until
from tests.standins.discord_server import BOB, CHAT_CHANNEL, GENERAL_CHANNEL
from tests.standins.openai_server import INSUFFICIENT_QUOTA

DISCORD_LIMIT = 2000  # characters in a message's content, Discord's "Create Message" docs

CODE_REPLY = "Here is the script:\n```python\n" + "\n".join(
    f"print('line {i:03d} of the generated program')  # padding" for i in range(120)
) + "\n```\nThat's all."


def fences_balanced(text: str) -> bool:
    return sum(1 for line in text.split("\n") if line.strip().startswith("```")) % 2 == 0


async def assistant_logged(stands: Stands) -> None:
    """Until Greenflash holds an answer: the bot logs it once the reply is complete."""
    await until(lambda: [item for item in stands.greenflash.stored_messages()
                         if item["role"] == "assistant"], "the answer to be logged")


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
async def test_long_reply_is_split_without_breaking_code(stands: Stands, stream: bool) -> None:
    settings = bot_settings(stands, stream_replies=stream, max_tokens=len(CODE_REPLY))
    stands.openai.script(CODE_REPLY)
    stands.openai.chunk_size = 400
    async with running_bot(stands, settings):
        await stands.discord.send_message(GENERAL_CHANNEL, "write code", mention_bot=True)
        await assistant_logged(stands)
        parts = [part["content"] for part in stands.discord.sent_messages(GENERAL_CHANNEL)]
    assert len(parts) == math.ceil(len(CODE_REPLY) / DISCORD_LIMIT) > 1
    assert all(fences_balanced(part) for part in parts)  # (Discord refuses longer parts)
    # Each cut inside the code block closes it and the next part reopens it; nothing else
    # is added or lost.
    assert "\n".join(parts).replace("\n```\n```python\n", "\n") == CODE_REPLY


async def test_model_output_pings_nobody(stands: Stands, bot: ChatBot) -> None:
    stands.openai.script("@everyone <@&123> <@456> read this")
    await stands.discord.send_message(GENERAL_CHANNEL, "ping them all", mention_bot=True)
    (reply,) = await stands.discord.wait_for_messages(1)
    assert reply["content"] == "@everyone <@&123> <@456> read this"
    posts = [r for r in stands.discord.requests if r.method in {"POST", "PATCH"}
             and "/messages" in r.path]
    assert posts
    assert all(pings_nobody(r.json["allowed_mentions"]) for r in posts)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 429, "body": INSUFFICIENT_QUOTA}, FailureKind.QUOTA),
        ({"status": 500}, FailureKind.SERVER_ERROR),
        ("hang", FailureKind.TIMEOUT),
        ("refused", FailureKind.UNREACHABLE),
    ],
    ids=["quota", "server-error", "timeout", "refused"],
)
async def test_model_failure_gives_one_polite_sentence(
    stands: Stands, fault: object, kind: FailureKind
) -> None:
    settings = bot_settings(stands, openai_timeout=1.0)
    async with running_bot(stands, settings):
        if fault == "hang":
            stands.openai.hang_next()
        elif fault == "refused":
            await stands.openai.stop()
        else:
            stands.openai.fail_next(**fault)  # type: ignore[arg-type]
        sent = await stands.discord.send_message(GENERAL_CHANNEL, "hello", mention_bot=True)
        (reply,) = await stands.discord.wait_for_messages(1)
        assert reply["content"] == POLITE[kind]
        assert reply["message_reference"]["message_id"] == sent["id"]
        await stands.discord.send_message(GENERAL_CHANNEL, "still alive?", author=BOB,
                                          mention_bot=True)
        second = await stands.discord.wait_for_messages(2)
    # The faults are one-shot, so the next question is answered; a stopped stand-in stays
    # down (restarted, it would listen on another port), so the bot still says why.
    recovered = POLITE[kind] if fault == "refused" else "echo: Bob: still alive?"
    assert second[1]["content"] == recovered


async def test_cooldown_answers_with_a_short_lived_notice(stands: Stands) -> None:
    settings = bot_settings(stands, cooldown_rate=2, cooldown_seconds=2)
    async with running_bot(stands, settings):
        for number in range(settings.cooldown_rate + 1):
            await stands.discord.send_message(GENERAL_CHANNEL, f"q{number}", mention_bot=True)
            await stands.discord.wait_for_messages(number + 1)
        await stands.discord.send_message(GENERAL_CHANNEL, "bob's turn", author=BOB,
                                          mention_bot=True)
        replies = await stands.discord.wait_for_messages(settings.cooldown_rate + 2)
        notice = replies[settings.cooldown_rate]
        wait = re.fullmatch(re.escape(COOLDOWN).replace(r"\{seconds:\.0f\}", r"(\d+)"),
                            notice["content"])
        assert wait is not None, notice["content"]
        assert int(wait.group(1)) <= settings.cooldown_seconds, "the wait left, rounded"
        assert replies[-1]["content"] == "echo: Bob: bob's turn", "a cooldown is per user"
        deleted = await stands.discord.wait_for(
            lambda r: r.method == "DELETE" and r.path.endswith(f"/messages/{notice['id']}"),
            timeout=settings.cooldown_seconds + 2,
        )
        posted = await stands.discord.wait_for(
            lambda r: r.method == "POST" and r.response and r.response.get("id") == notice["id"])
        assert deleted.received_at - posted.received_at <= settings.cooldown_seconds
    assert len(stands.openai.requests) == settings.cooldown_rate + 1  # Alice's, and Bob's


async def test_empty_mention_and_stickers_get_a_hint(stands: Stands, bot: ChatBot) -> None:
    await stands.discord.send_message(GENERAL_CHANNEL, "", mention_bot=True)
    await stands.discord.send_message(
        CHAT_CHANNEL, "", stickers=[{"id": "749054660769218631", "name": "Wave", "format_type": 1}],
    )
    await stands.discord.send_message(CHAT_CHANNEL, "\u200b\u200b", mention_bot=True)
    replies = await stands.discord.wait_for_messages(3)
    assert sorted(r["content"] for r in replies) == sorted(
        [EMPTY_MENTION, STICKERS_ONLY, EMPTY_MENTION]
    )
    await barrier(stands.discord, bot)
    await stands.greenflash.wait_for_accepted("/messages", 2)  # the barrier and its answer
    await bot.analytics.close()
    (model_call,) = stands.openai.requests
    assert model_call["messages"][-1]["content"] == "Bob: barrier", "only the barrier's"
    logged = [r.json["messages"][0]["content"] for r in stands.greenflash.accepted_for("/messages")]
    assert sorted(logged) == ["barrier", "echo: Bob: barrier"], "notices are not logged"


async def test_a_message_at_the_prompt_limit_is_answered_whole(
    stands: Stands, bot: ChatBot
) -> None:
    long_text = "why " * (Settings.model_fields["max_prompt_chars"].default // len("why "))
    await stands.discord.send_message(GENERAL_CHANNEL, long_text, mention_bot=True)
    await stands.discord.wait_for_messages(1)
    asked = stands.openai.requests[-1]["messages"][-1]["content"]
    assert asked == "Alice: " + long_text.strip()


async def test_deleted_question_is_not_answered(stands: Stands, bot: ChatBot) -> None:
    stands.openai.latency = 0.5
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "never mind", mention_bot=True)
    await stands.openai.wait_for_requests(1)
    await stands.discord.delete_message(GENERAL_CHANNEL, int(sent["id"]))
    stands.openai.latency = 0
    sentinel = await stands.discord.send_message(GENERAL_CHANNEL, "next", mention_bot=True)
    (only,) = await stands.discord.wait_for_messages(1)
    # The deleted question's reply, had it gone on, would be posted before its task ends.
    await until(lambda: bot.foreground.busy == 0, "both replies to end")
    assert [m["content"] for m in stands.discord.sent_messages()] == ["echo: Alice: next"]
    assert only["message_reference"]["message_id"] == sentinel["id"]


async def test_edited_question_is_answered_as_asked(stands: Stands, bot: ChatBot) -> None:
    stands.openai.latency = 0.3
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "first wording", mention_bot=True)
    await stands.openai.wait_for_requests(1)
    await stands.discord.edit_message(GENERAL_CHANNEL, int(sent["id"]), "second wording")
    (reply,) = await stands.discord.wait_for_messages(1)
    assert reply["content"] == "echo: Alice: first wording"


async def test_missing_send_permission_is_logged_and_others_still_served(
    stands: Stands, bot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    stands.discord.deny_send(GENERAL_CHANNEL)
    await stands.discord.send_message(GENERAL_CHANNEL, "hello", mention_bot=True)
    sent = await stands.discord.send_message(CHAT_CHANNEL, "hello there")
    (reply,) = await stands.discord.wait_for_messages(1, channel_id=CHAT_CHANNEL)
    assert reply["message_reference"]["message_id"] == sent["id"]
    await stands.discord.wait_for(
        lambda r: r.path == f"/channels/{GENERAL_CHANNEL}/messages" and r.status == 403
    )
    await until(lambda: "could not post reply in channel" in caplog.text,
                "the 403 to be logged")  # once the 403 reaches the bot
    assert stands.discord.sent_messages(GENERAL_CHANNEL) == []
