"""The chat flow's pure parts for attachments: the note under an answer, and the messages the
model gets (image parts only where a turn carries images, in a shape OpenAI accepts)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.attachments.kinds import AttachmentBatch, ImageInput, Skipped, SkipReason
from bot.attachments.notes import skipped_line
from bot.conversation.exchange import Completion, Usage
from bot.conversation.memory import Turn
from bot.llm import ChatModel
from cogs.chat import with_attachment_note
from tests.attachments.test_analytics_fields import batches, images
from tests.helpers import make_settings
from tests.standins.openai_content import content_problem, sent_images

MODEL = ChatModel(make_settings())

completions = st.builds(
    Completion, text=st.text(min_size=1, max_size=200), model=st.just("gpt-4o-mini"),
    usage=st.just(Usage()), finish_reason=st.sampled_from(["stop", "length"]),
    images_dropped=st.booleans(),
)


@given(completions, batches)
def test_an_answer_gains_at_most_one_subtext_line(
    completion: Completion, batch: AttachmentBatch
) -> None:
    shown = with_attachment_note(completion, batch)
    assert shown.startswith(completion.shown_text)
    extra = shown.removeprefix(completion.shown_text)
    if extra:
        assert extra.startswith("\n-# ") and "\n" not in extra[1:]
    not_seen = [item for item in batch.skipped if item.reason is not SkipReason.EARLIER]
    assert bool(extra) == bool(not_seen or (batch.images and completion.images_dropped))


@given(completions, st.lists(images, min_size=1, max_size=4))
def test_after_a_text_only_retry_every_image_is_named_as_not_seen(
    completion: Completion, shown_images: list[ImageInput]
) -> None:
    batch = AttachmentBatch(tuple(shown_images))
    dropped = with_attachment_note(
        Completion(completion.text, completion.model, completion.usage, images_dropped=True),
        batch,
    )
    expected = skipped_line(AttachmentBatch(tuple(
        Skipped(image.name, image.kind, image.size, SkipReason.NO_VISION)
        for image in shown_images
    )))
    assert dropped.endswith(f"\n-# {expected}")


turns = st.lists(
    st.tuples(st.sampled_from(["user", "assistant"]), st.text(min_size=1, max_size=50),
              st.lists(images, max_size=3)),
    min_size=1, max_size=6,
).map(lambda specs: [
    Turn(role, text, "Alice", key=index, images=tuple(pics) if role == "user" else ())
    for index, (role, text, pics) in enumerate(specs)
])


@given(turns)
def test_image_parts_go_only_with_the_turns_that_carry_them(conversation: list[Turn]) -> None:
    messages = MODEL.build_messages(conversation)
    body = {"model": "gpt-4o-mini", "messages": messages}
    assert content_problem(body) is None, "OpenAI accepts the shape"
    with_parts = [index for index, message in enumerate(messages)
                  if isinstance(message["content"], list)]
    assert with_parts == [index + 1 for index, turn in enumerate(conversation) if turn.images]
    assert [image.data for image in sent_images(body)] == [
        image.data for turn in conversation for image in turn.images
    ]
    for index, turn in enumerate(conversation, start=1):
        content = messages[index]["content"]
        text = content[0]["text"] if isinstance(content, list) else content
        assert text == (f"Alice: {turn.content}" if turn.role == "user" else turn.content)
