"""What the model and Greenflash get for attachments: every attachment named, bounds held,
no image bytes to Greenflash, and model content OpenAI's validation accepts."""

from __future__ import annotations

import base64
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from bot.attachments.analytics_fields import (
    attachment_properties,
    greenflash_content,
    greenflash_context,
)
from bot.attachments.kinds import (
    AttachmentBatch,
    Fetched,
    ImageInput,
    Kind,
    Skipped,
    SkipReason,
    TextFile,
)
from bot.attachments.model_content import (
    NO_TEXT_QUESTION,
    fence_for,
    message_content,
    rejects_images,
    turn_text,
)
from bot.attachments.notes import NAME_MAX_CHARS, display_name, human_size, note, skipped_line
from tests.attachments.test_sniffing import JPEG, PNG, WEBP
from tests.standins.openai_content import content_problem, sent_images

names = st.text(min_size=1, max_size=150)
images = st.builds(
    ImageInput,
    data=st.tuples(st.sampled_from([PNG, JPEG, WEBP]), st.binary(min_size=16, max_size=64))
    .map(lambda parts: parts[0] + parts[1]),
    mime=st.just("image/png"),
    name=names,
)
files = st.builds(TextFile, name=names, text=st.text(max_size=300), truncated=st.booleans(),
                  size=st.integers(min_value=0, max_value=10**8))
skipped = st.builds(Skipped, name=names, kind=st.sampled_from(Kind),
                    size=st.integers(min_value=0, max_value=10**8),
                    reason=st.sampled_from(SkipReason))
batches = st.lists(st.one_of(images, files, skipped), max_size=8).map(
    lambda items: AttachmentBatch(tuple(items))
)


# -- notes ---------------------------------------------------------------------------------


def test_notes_read_as_the_issue_shows_them() -> None:
    assert note(ImageInput(PNG, "image/png", "screenshot.png")) == "[image: screenshot.png]"
    assert note(TextFile("app.log", "x", False, 12_000)) == "[file: app.log, 12 kB]"
    assert note(Skipped("report.pdf", Kind.BINARY, 1_200_000, SkipReason.UNREADABLE)) == (
        "[file: report.pdf, 1.2 MB, not read: not a file type I can read]"
    )
    assert note(Skipped("old.png", Kind.IMAGE, 10, SkipReason.EARLIER)) == "[image: old.png]"


def test_sizes_use_decimal_units() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 12_345, 999_499, 3_400_000)] == [
        "0 B", "999 B", "1 kB", "12 kB", "999 kB", "3.4 MB"
    ]


@given(st.text(max_size=2_000))
def test_a_name_becomes_one_short_line(name: str) -> None:
    shown = display_name(name)
    assert 0 < len(shown) <= NAME_MAX_CHARS
    assert "\n" not in shown and "\r" not in shown and "]" not in shown


@given(st.one_of(images, files, skipped))
def test_a_note_is_one_bracketed_line_naming_the_attachment(item: Fetched) -> None:
    line = note(item)
    assert line.startswith("[") and line.endswith("]") and "\n" not in line
    assert display_name(item.name) in line


# -- the model's side ---------------------------------------------------------------------


@given(st.text(max_size=200), batches)
def test_the_turn_text_names_every_attachment_and_holds_each_file_whole(
    text: str, batch: AttachmentBatch
) -> None:
    turn = turn_text(text, batch)
    question = text or (NO_TEXT_QUESTION if batch else "")
    assert turn.startswith(question)
    position = len(question)
    for item in batch.items:
        found = turn.find(note(item), position)
        assert found >= position, note(item)
        position = found + len(note(item))
        if isinstance(item, TextFile):
            fence = fence_for(item.text)
            assert turn[position:].startswith(f"\n{fence}\n{item.text}\n{fence}")


@given(st.text(max_size=300))
def test_a_file_cannot_close_its_own_fence(text: str) -> None:
    fence = fence_for(text)
    assert fence not in text
    assert len(fence) >= 3


@given(st.text(max_size=100), st.lists(images, max_size=4))
def test_model_content_carries_the_attached_bytes(text: str, shown: list[ImageInput]) -> None:
    content = message_content(text, shown)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    if not shown:
        assert content == text
    else:
        assert content[0] == {"type": "text", "text": text}  # type: ignore[index]
    assert [image.data for image in sent_images(body)] == [image.data for image in shown]
    assert content_problem(body, vision=True) is None
    assert (content_problem(body, vision=False) is None) == (not shown)


# -- Greenflash's side --------------------------------------------------------------------


@given(st.text(max_size=200), batches)
def test_greenflash_content_is_the_text_then_a_note_per_attachment(
    text: str, batch: AttachmentBatch
) -> None:
    content = greenflash_content(text, batch)
    lines = content.split("\n")
    notes = [note(item) for item in batch.items]
    assert lines[len(lines) - len(notes):] == notes
    assert content.startswith(text)


@given(batches, st.integers(min_value=0, max_value=2_000))
def test_greenflash_context_holds_the_files_text_within_the_bound(
    batch: AttachmentBatch, max_chars: int
) -> None:
    context = greenflash_context(batch, max_chars)
    if not batch.files:
        assert context is None
        return
    assert context is not None and len(context) <= max_chars
    full = greenflash_context(batch, 10**9)
    assert full is not None and full.startswith(context)
    assert all(file.text in full for file in batch.files)


@given(st.text(max_size=50), batches)
def test_no_image_bytes_reach_greenflash(text: str, batch: AttachmentBatch) -> None:
    payload = json.dumps({
        "content": greenflash_content(text, batch),
        "context": greenflash_context(batch),
        "properties": attachment_properties(batch),
    })
    for image in batch.images:
        encoded = base64.b64encode(image.data).decode()
        assert encoded not in payload
        assert image.data_url() not in payload
        assert image.data.decode("latin-1") not in payload


@given(batches)
def test_properties_list_every_attachment_and_whether_the_model_saw_it(
    batch: AttachmentBatch,
) -> None:
    properties = attachment_properties(batch)
    if not batch:
        assert properties == {}
        return
    listed = properties["attachments"]
    assert [entry["name"] for entry in listed] == [display_name(i.name) for i in batch.items]
    assert [entry["seen_by_model"] for entry in listed] == [
        not isinstance(item, Skipped) for item in batch.items
    ]
    assert [entry["size"] for entry in listed] == [item.size for item in batch.items]
    assert properties["attachment_count"] == len(batch.items)
    assert properties["images_seen"] + properties["files_read"] + properties[
        "attachments_skipped"] == len(batch.items)


@given(batches)
def test_a_text_only_model_gets_every_image_as_a_named_skip(batch: AttachmentBatch) -> None:
    fallback = batch.without_images(SkipReason.NO_VISION)
    assert fallback.images == ()
    assert len(fallback.items) == len(batch.items)
    assert [item.name for item in fallback.items] == [item.name for item in batch.items]
    text = turn_text("q", fallback)
    assert len(re.findall(r"\[image: [^\n]*not seen", text)) >= len(batch.images)


# -- the user's one line, and the text-only fallback -------------------------------------


def test_the_user_is_told_in_one_line_what_the_model_did_not_get() -> None:
    shot = ImageInput(PNG, "image/png", "shot.png")
    pdf = Skipped("report.pdf", Kind.BINARY, 10, SkipReason.UNREADABLE)
    assert skipped_line(AttachmentBatch((shot,))) is None
    assert skipped_line(AttachmentBatch((shot,)).without_images(SkipReason.NO_VISION)) == (
        "I couldn't look at the image, so I answered from the text."
    )
    assert skipped_line(AttachmentBatch((pdf, shot))) == (
        "I couldn't read report.pdf (not a file type I can read)."
    )


@given(batches)
def test_the_users_line_is_short_and_names_what_was_not_read(batch: AttachmentBatch) -> None:
    line = skipped_line(batch)
    missed = [item for item in batch.skipped if item.reason is not SkipReason.EARLIER]
    assert (line is None) == (not missed)
    if line is not None:
        assert "\n" not in line and len(line) <= 3 * (NAME_MAX_CHARS + 40) + 40
        assert display_name(missed[0].name) in line or "couldn't look at the image" in line


def test_image_rejections_are_told_apart_from_other_bad_requests() -> None:
    shot = message_content("q", [ImageInput(PNG, "image/png", "a.png")])
    request = {"model": "m", "messages": [{"role": "user", "content": shot}]}
    assert rejects_images(content_problem(request, vision=False))
    broken = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}]}
    assert rejects_images(content_problem(broken))
    assert rejects_images({"message": "Invalid image.", "code": "invalid_image"})
    assert not rejects_images({"error": {"message": "The 'stream_options' parameter is only "
                                         "allowed when 'stream' is enabled.", "code": None,
                                         "param": "stream_options"}})
    assert not rejects_images(None)
