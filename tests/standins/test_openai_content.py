"""The OpenAI stand-in's content-part validation: accepts image parts as the chat completions
API defines them, rejects malformed ones with OpenAI's own error bodies, plays a text-only
model."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from bot.attachments.kinds import ImageInput
from bot.attachments.model_content import message_content
from tests.attachments.test_sniffing import PNG
from tests.standins.openai_content import content_problem, sent_images
from tests.standins.openai_server import OpenAIStandIn, openai_error

PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def body(*parts: Any, role: str = "user", model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"model": model, "messages": [
        {"role": "system", "content": "be brief"},
        {"role": role, "content": list(parts)},
    ]}


def text(value: str = "what is this?") -> dict[str, Any]:
    return {"type": "text", "text": value}


def image(url: str = PNG_URL, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return openai_error(message, "invalid_request_error", code, param)


@pytest.mark.parametrize("detail", [None, "auto", "low", "high"])
def test_image_parts_as_the_api_defines_them_are_accepted(detail: str | None) -> None:
    part = image(**({"detail": detail} if detail else {}))
    assert content_problem(body(text(), part)) is None
    [sent] = sent_images(body(text(), part))
    assert (sent.message, sent.mime, sent.data, sent.detail) == (1, "image/png", PNG,
                                                                 detail or "auto")


def test_a_text_only_model_rejects_images_as_openai_does() -> None:
    assert content_problem(body(text(), image()), vision=False) == error(
        "Invalid content type. image_url is only supported by certain models.",
        "messages.[1].content.[1].type", None,
    )
    assert content_problem(body(text(), text("more")), vision=False) is None


def test_images_are_only_for_user_messages() -> None:
    assert content_problem(body(image(), role="assistant")) == error(
        "Invalid 'messages[1]'. Image URLs are only allowed for messages with role 'user', "
        "but this message with role 'assistant' contains an image URL.", "messages[1]", None,
    )


@pytest.mark.parametrize(("part", "expected"), [
    ({"type": "image", "image": PNG_URL}, error(
        "Invalid value: 'image'. Supported values are: 'text' and 'image_url'.",
        "messages[1].content[0].type", "invalid_value")),
    ({"type": "image_url", "image_url": PNG_URL}, error(
        "Invalid type for 'messages[1].content[0].image_url': expected an object, but got a "
        "string instead.", "messages[1].content[0].image_url", "invalid_type")),
    (image(detail="LOW"), error(
        "Invalid value: 'LOW'. Supported values are: 'low', 'high', and 'auto'.",
        "messages[1].content[0].image_url.detail", "invalid_value")),
    (image(base64.b64encode(PNG).decode()), error(
        "Invalid image URL: 'messages[1].content[0].image_url.url'. Expected a base64-encoded "
        "data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), "
        "but got a value without the 'data:' prefix.",
        "messages[1].content[0].image_url.url", "invalid_value")),
    (image("data:image/png;base64,"), error(
        "Invalid image URL: 'messages[1].content[0].image_url.url'. Expected a base64-encoded "
        "data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), "
        "but got empty base64-encoded bytes.",
        "messages[1].content[0].image_url.url", "invalid_value")),
    (image("data:image/png;base64,@@not base64@@"), error(
        "Invalid image.", None, "invalid_image")),
    (image("data:image/png;base64," + base64.b64encode(b"%PDF-1.7 hello").decode()), error(
        "You uploaded an unsupported image. Please make sure your image has of one the "
        "following formats: ['png', 'jpeg', 'gif', 'webp'].", None, "invalid_image_format")),
    (image("https://cdn.discordapp.com/attachments/1/2/shot.png?ex=1&is=2&hm=3"), error(
        "Timeout while downloading shot.png.", None, "invalid_image_url")),
    ({"type": "text"}, error(
        "Missing required parameter: 'messages[1].content[0].text'.",
        "messages[1].content[0].text", "missing_required_parameter")),
])
def test_malformed_parts_get_openais_error(part: dict[str, Any], expected: dict[str, Any]) -> None:
    assert content_problem(body(part)) == expected


def test_an_image_over_20_mb_is_refused() -> None:
    big = PNG + bytes(20 * 1024 * 1024)
    problem = content_problem(body(image("data:image/png;base64," + base64.b64encode(big)
                                         .decode())))
    assert problem is not None
    assert problem["error"]["message"].startswith(
        "You uploaded an unsupported image. Please make sure your image is below 20 MB"
    )


@pytest_asyncio.fixture
async def validating() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as standin:
        standin.models.add("gpt-3.5-turbo")
        standin.text_only_models.add("gpt-3.5-turbo")
        yield standin


async def test_the_real_sdk_sees_openais_error_for_a_text_only_model(
    validating: OpenAIStandIn,
) -> None:
    client = openai.AsyncOpenAI(base_url=validating.base_url, api_key="sk-test", max_retries=0)
    content = message_content("Alice: what is this?", [ImageInput(PNG, "image/png", "a.png")])
    messages: Any = [{"role": "user", "content": content}]
    try:
        answer = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert answer.choices[0].message.content == "echo: Alice: what is this?"
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
    finally:
        await client.close()
    assert raised.value.status_code == 400
    assert raised.value.code is None
    assert raised.value.message.endswith(
        "Invalid content type. image_url is only supported by certain models."
    )
    assert [image.data for image in sent_images(validating.requests[0])] == [PNG]
