"""Attachments end to end: the real bot downloads them from the Discord stand-in's CDN route,
shows images to the OpenAI stand-in as image parts, reads text files, names what it skipped,
and logs notes, file text and properties (never image bytes) to the Greenflash stand-in."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bot.attachments.config import AttachmentSettings, VisionMode
from bot.client import ChatBot
from tests.bot_harness import Stands, bot_settings, running_bot
from tests.helpers import answers_to, until
from tests.standins.discord_server import BOB, CHAT_CHANNEL, GENERAL_CHANNEL
from tests.standins.openai_content import sent_images

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + bytes(17)
SCREENSHOT = PNG + b"the pixels of a stack trace"
LOG = "ERROR app: connection refused (db:5432)\nINFO retrying in 5s\n"
IMAGE_LINE = "I couldn't look at the image, so I answered from the text."


def host(stands: Stands, filename: str, data: bytes, content_type: str | None,
         **serving: Any) -> dict[str, Any]:
    return stands.discord.attachment(filename, data, content_type, channel_id=GENERAL_CHANNEL,
                                     **serving)


def logged(stands: Stands, message_id: str) -> dict[str, Any] | None:
    return next((item for item in stands.greenflash.stored_messages()
                 if item.get("externalMessageId") == message_id), None)


def answer_logged(stands: Stands, message_id: str) -> dict[str, Any] | None:
    return next((item for item in stands.greenflash.stored_messages()
                 if item.get("parentExternalMessageId") == message_id), None)


async def ask(stands: Stands, text: str, *, channel_id: int = GENERAL_CHANNEL,
              **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send a message addressed to the bot; return it and the bot's reply once both halves
    are in Greenflash (the reply is logged after it is complete on Discord)."""
    kwargs.setdefault("mention_bot", channel_id != CHAT_CHANNEL)
    sent = await stands.discord.send_message(channel_id, text, **kwargs)
    await until(lambda: logged(stands, sent["id"]) and answer_logged(stands, sent["id"]),
                "both halves of the exchange in Greenflash")
    (reply,) = answers_to(stands.discord, sent["id"])
    return sent, reply


def last_user_content(stands: Stands) -> Any:
    return stands.openai.requests[-1]["messages"][-1]["content"]


def no_image_bytes_in_greenflash(stands: Stands, *images: bytes) -> None:
    bodies = "\n".join(json.dumps(record.json, default=str) for record in
                       [*stands.greenflash.accepted, *stands.greenflash.failed])
    assert "data:image" not in bodies and "base64" not in bodies
    for image in images:
        assert base64.b64encode(image).decode() not in bodies
        assert image.decode("latin-1") not in bodies


async def test_a_screenshot_reaches_the_model_as_the_attached_bytes(
    stands: Stands, bot: ChatBot
) -> None:
    shot = host(stands, "screenshot.png", SCREENSHOT, "image/png")
    sent, reply = await ask(stands, "what's wrong here?", attachments=[shot])
    (image,) = sent_images(stands.openai.requests[-1])
    assert (image.mime, image.data) == ("image/png", SCREENSHOT)
    text_part, _ = last_user_content(stands)
    assert text_part == {"type": "text",
                         "text": "Alice: what's wrong here?\n[image: screenshot.png]"}
    assert "couldn't" not in reply["content"], "nothing to say about what the model saw"
    item = logged(stands, sent["id"])
    assert item is not None
    assert item["content"] == "what's wrong here?\n[image: screenshot.png]"
    assert "context" not in item, "an image has no text for the context"
    assert item["properties"]["attachments"] == [{
        "name": "screenshot.png", "type": "image", "size": len(SCREENSHOT),
        "seen_by_model": True, "mime": "image/png",
    }]
    assert item["properties"]["images_seen"] == 1
    no_image_bytes_in_greenflash(stands, SCREENSHOT)


async def test_an_image_on_the_replied_message_is_sent_too(stands: Stands, bot: ChatBot) -> None:
    shot = host(stands, "diagram.png", SCREENSHOT, "image/png")
    posted = await stands.discord.send_message(GENERAL_CHANNEL, "our architecture",
                                               author=BOB, attachments=[shot])
    await ask(stands, "what does this show?", reply_to=int(posted["id"]))
    assert [image.data for image in sent_images(stands.openai.requests[-1])] == [SCREENSHOT]
    assert last_user_content(stands)[0]["text"] == (
        "Alice: what does this show?\n[image: diagram.png]"
    )


async def test_a_log_files_text_reaches_the_model_and_greenflashs_context(
    stands: Stands, bot: ChatBot
) -> None:
    log = host(stands, "app.log", LOG.encode(), "text/plain; charset=utf-8")
    sent, _ = await ask(stands, "why does it fail?", attachments=[log])
    note = f"[file: app.log, {len(LOG.encode())} B]"
    assert last_user_content(stands) == f"Alice: why does it fail?\n{note}\n```\n{LOG}\n```"
    item = logged(stands, sent["id"])
    assert item is not None
    assert item["content"] == f"why does it fail?\n{note}"
    assert item["context"] == f"{note}\n{LOG}"
    assert item["properties"]["attachments"] == [{
        "name": "app.log", "type": "text", "size": len(LOG.encode()), "seen_by_model": True,
        "truncated": False,
    }]
    assert item["properties"]["files_read"] == 1


async def test_a_pdf_is_named_as_skipped_and_the_question_answered(
    stands: Stands, bot: ChatBot
) -> None:
    pdf = host(stands, "report.pdf", b"%PDF-1.7\n" + bytes(2000), "application/pdf")
    sent, reply = await ask(stands, "summarise this", attachments=[pdf])
    answer, line = reply["content"].rsplit("\n", 1)
    assert answer.startswith("echo: Alice: summarise this")
    assert line == "-# I couldn't read report.pdf (not a file type I can read)."
    assert stands.discord.cdn_files.served_for(pdf) == [], "a PDF is never downloaded"
    item = logged(stands, sent["id"])
    assert item is not None
    assert item["properties"]["attachments"][0]["seen_by_model"] is False
    assert item["properties"]["attachments"][0]["skipped"] == "unreadable"


async def test_an_oversized_image_is_refused_without_reading_past_the_cap(
    stands: Stands,
) -> None:
    cap = 64 * 1024
    attachments = AttachmentSettings(max_bytes=cap, max_images=2)
    async with running_bot(stands, attachments=attachments) as bot:
        declared = host(stands, "declared.png", PNG + bytes(cap), "image/png")
        # Discord's size says small; the body is 512 times the cap and has no length.
        lying = host(stands, "lying.png", PNG, "image/png", size=1000, body_size=512 * cap,
                     length="chunked")
        _, reply = await ask(stands, "look", attachments=[declared, lying])
    assert reply["content"].endswith(
        "-# I couldn't read declared.png (too large), lying.png (too large)."
    )
    cdn = stands.discord.cdn_files
    assert cdn.served_for(declared) == [], "over the cap by its size: never requested"
    (served,) = cdn.served_for(lying)
    await until(lambda: served.finished or served.aborted, "the CDN to end the response")
    assert served.aborted, "the bot hung up before the body ended"
    assert served.bytes_written < 512 * cap
    assert bot.attachments.bytes_read == cap, "and read exactly up to the cap"
    assert sent_images(stands.openai.requests[-1]) == []


async def test_links_in_the_text_and_embeds_are_never_fetched(
    stands: Stands, bot: ChatBot
) -> None:
    # Hosted on the very CDN the bot may use: only the attachment objects count.
    in_text = host(stands, "in-text.png", SCREENSHOT, "image/png")
    in_embed = host(stands, "in-embed.txt", b"secret", "text/plain")
    elsewhere = "http://169.254.169.254/latest/meta-data/"
    embed = {"url": in_embed["url"], "image": {"url": in_text["url"]},
             "thumbnail": {"url": elsewhere}}
    # The downloads come before the answer, so the answer is the deadline.
    await ask(stands, f"what is at {in_text['url']} and {elsewhere}?", embeds=[embed])
    assert stands.discord.cdn_files.served == []
    assert isinstance(last_user_content(stands), str), "no image part"


async def test_an_attachment_url_off_discords_cdn_is_named_not_fetched(
    stands: Stands, bot: ChatBot
) -> None:
    foreign = {"id": "1", "filename": "a.png", "size": 10, "content_type": "image/png",
               "url": "http://127.0.0.2:9/attachments/1/1/a.png",
               "proxy_url": "http://127.0.0.2:9/attachments/1/1/a.png"}
    _, reply = await ask(stands, "", channel_id=CHAT_CHANNEL, attachments=[foreign])
    assert reply["content"].endswith("-# I couldn't read a.png (not hosted on Discord).")
    assert last_user_content(stands).startswith("Alice: What do you make of this?")


async def test_a_model_without_vision_gets_the_text_and_the_user_one_line(
    stands: Stands,
) -> None:
    async with running_bot(stands, attachments=AttachmentSettings(vision=VisionMode.OFF)):
        shot = host(stands, "screenshot.png", SCREENSHOT, "image/png")
        _, reply = await ask(stands, "what's wrong here?", attachments=[shot])
    assert reply["content"].endswith(f"\n-# {IMAGE_LINE}")
    assert last_user_content(stands) == (
        "Alice: what's wrong here?\n[image: screenshot.png, not seen: this model can't see images]"
    )
    assert stands.discord.cdn_files.served_for(shot) == [], "not downloaded for nothing"
    assert len(stands.openai.requests) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
async def test_a_server_that_refuses_images_is_asked_again_without_them(
    stands: Stands, stream: bool
) -> None:
    settings = bot_settings(stands, stream_replies=stream)
    stands.openai.text_only_models.add(settings.model)
    async with running_bot(stands, settings):
        shot = host(stands, "screenshot.png", SCREENSHOT, "image/png")
        sent, reply = await ask(stands, "what's wrong here?", attachments=[shot])
    refused, retried = stands.openai.requests
    assert sent_images(refused) and not sent_images(retried)
    assert retried["messages"][-1]["content"] == (
        "Alice: what's wrong here?\n[image: screenshot.png]"
    )
    assert reply["content"] == f"echo: Alice: what's wrong here?\n[image: screenshot.png]\n" \
        f"-# {IMAGE_LINE}"
    answer = answer_logged(stands, sent["id"])
    assert answer is not None and answer["properties"]["images_dropped"] is True


async def test_attachments_without_text_are_a_question(stands: Stands, bot: ChatBot) -> None:
    log = host(stands, "build.log", LOG.encode(), "text/plain")
    await ask(stands, "", channel_id=CHAT_CHANNEL, attachments=[log])
    assert last_user_content(stands).startswith(
        f"Alice: What do you make of this?\n[file: build.log, {len(LOG.encode())} B]\n```\n"
    )


async def test_after_a_restart_earlier_images_are_placeholders_and_files_are_read_again(
    stands: Stands,
) -> None:
    stands.openai.script("A refused connection.", "Still refused.")
    async with running_bot(stands):
        shot = host(stands, "shot.png", SCREENSHOT, "image/png")
        log = host(stands, "app.log", LOG.encode(), "text/plain")
        await ask(stands, "look", channel_id=CHAT_CHANNEL, attachments=[shot, log])
    live = stands.openai.requests[-1]["messages"][-1]
    async with running_bot(stands):
        await ask(stands, "and now?", channel_id=CHAT_CHANNEL)
    history = stands.openai.requests[-1]["messages"]
    earlier = f"Alice: look\n[image: shot.png]\n[file: app.log, {len(LOG.encode())} B]\n" \
        f"```\n{LOG}\n```"
    assert live["content"][0]["text"] == earlier, "the question itself had the image"
    assert history[1:] == [
        {"role": "user", "content": earlier},
        {"role": "assistant", "content": "A refused connection."},
        {"role": "user", "content": "Alice: and now?"},
    ]
    assert len(stands.discord.cdn_files.served_for(shot)) == 1, "the image is not fetched again"
    assert len(stands.discord.cdn_files.served_for(log)) == 2, "the file is read again"


async def test_a_rebuilt_context_counts_file_text_against_context_max_chars(
    stands: Stands,
) -> None:
    limit = 1000
    settings = bot_settings(stands, context_max_chars=limit)
    big = "x" * limit + "\n"
    stands.openai.script("ok 1", "ok 2", "ok 3")
    async with running_bot(stands, settings):
        await ask(stands, "first", channel_id=CHAT_CHANNEL)
        log = host(stands, "big.log", big.encode(), "text/plain")
        await ask(stands, "second", channel_id=CHAT_CHANNEL, attachments=[log])
    async with running_bot(stands, settings):
        await ask(stands, "third", channel_id=CHAT_CHANNEL)
    history = stands.openai.requests[-1]["messages"][1:-1]
    # The file's turn alone is over the limit with the answer after it, so the window
    # ends there, as it would for a message that long.
    assert history == [{"role": "assistant", "content": "ok 2"}]
    assert sum(len(message["content"]) for message in history) <= limit


async def test_a_slow_download_holds_up_only_its_own_question(
    stands: Stands, bot: ChatBot
) -> None:
    # 21 chunks, 0.2 s apart: about 4 s to download.
    slow = host(stands, "slow.png", PNG + bytes(20 * 1024), "image/png", chunk=1024, drip=0.2)
    sent = await stands.discord.send_message(GENERAL_CHANNEL, "look", mention_bot=True,
                                             attachments=[slow])
    (served,) = await until(lambda: stands.discord.cdn_files.served_for(slow),
                            "the slow download to start")
    meanwhile = await stands.discord.send_message(CHAT_CHANNEL, "meanwhile", author=BOB)
    await until(lambda: answers_to(stands.discord, meanwhile["id"]), "Bob's answer",
                changed=stands.discord.next_change)
    assert not served.finished, "while the image was still downloading"
    assert answers_to(stands.discord, sent["id"]) == []
    assert logged(stands, sent["id"]) is None, "its question is logged once read"
    await until(lambda: answer_logged(stands, sent["id"]), "the slow question's answer")
    assert [image.data for image in sent_images(stands.openai.requests[-1])] == [
        PNG + bytes(20 * 1024)
    ]


async def test_a_rebuilt_reply_names_the_image_it_replied_to_as_live_memory_did(
    stands: Stands,
) -> None:
    async with running_bot(stands) as bot:
        shot = host(stands, "diagram.png", SCREENSHOT, "image/png")
        posted = await stands.discord.send_message(GENERAL_CHANNEL, "our architecture",
                                                   author=BOB, attachments=[shot])
        await ask(stands, "what does this show?", reply_to=int(posted["id"]))
        live = [turn.content for turn in bot.chat.memory.window(GENERAL_CHANNEL)]
    async with running_bot(stands):
        await ask(stands, "and now?")
    rebuilt = [message["content"] for message in stands.openai.requests[-1]["messages"][1:-1]]
    assert rebuilt[0] == "Alice: what does this show?\n[image: diagram.png]"
    assert rebuilt == [f"Alice: {live[0]}", *live[1:]]
