"""OpenAI's checks on chat-completion message *content parts*, for the OpenAI stand-in.

The chat completions API reference defines a user message's ``content`` as a string or a
list of parts, among them ``{"type": "text", "text": ...}`` and ``{"type": "image_url",
"image_url": {"url": ..., "detail": "auto" | "low" | "high"}}``; system and developer
messages take text parts only, assistant messages text and refusal parts. OpenAI's vision
guide ("Image input requirements") accepts PNG, JPEG, WEBP and non-animated GIF, up to
20 MB an image. :func:`content_problem` answers a request body the way OpenAI does, with
the error bodies OpenAI really sends (each quoted from a reported 400 response):

================================================  ========================================
image part for a model without vision             ``Invalid content type. image_url is
                                                  only supported by certain models.``,
                                                  param ``messages.[i].content.[j].type``
                                                  (browser-use/web-ui#274, vllm#11629)
image part outside a user message                 ``Invalid 'messages[i]'. Image URLs are
                                                  only allowed for messages with role
                                                  'user', but this message with role
                                                  'assistant' contains an image URL.``
                                                  (openai/openai-node#1030)
unknown part ``type``                             ``Invalid value: 'image'. Supported values
                                                  are: 'text' and 'image_url'.``, code
                                                  ``invalid_value`` (aallam/openai-kotlin#320)
``image_url`` not an object                       ``Invalid type for '...image_url':
                                                  expected an object, but got a string
                                                  instead.``, code ``invalid_type``
                                                  (if-ai/ComfyUI-IF_AI_tools#101)
``detail`` not low/high/auto                      ``Invalid value: 'LOW'. Supported values
                                                  are: 'low', 'high', and 'auto'.``
                                                  (quarkiverse/quarkus-langchain4j#412)
``url`` neither ``data:`` nor http(s)             ``Invalid image URL: '...url'. Expected a
                                                  base64-encoded data URL with an image MIME
                                                  type (e.g. 'data:image/png;base64,...'),
                                                  but got a value without the 'data:'
                                                  prefix.`` (Alibaba-NLP/OmniSearch#3); with
                                                  no bytes: ``..., but got empty
                                                  base64-encoded bytes.`` (opencode#23983)
bytes that are not base64                         ``Invalid image.``, code ``invalid_image``
                                                  (chatchat-space/Langchain-Chatchat#4876)
bytes not PNG/JPEG/GIF/WEBP                       ``You uploaded an unsupported image. Please
                                                  make sure your image has of one the
                                                  following formats: ['png', 'jpeg', 'gif',
                                                  'webp'].``, code ``invalid_image_format``
                                                  (STranslate/STranslate#277)
over 20 MB                                        ``You uploaded an unsupported image. Please
                                                  make sure your image is below 20 MB in
                                                  size and is of one the following formats:
                                                  [...]`` (CosmosShadow/gptpdf#6)
an http(s) URL                                    ``Timeout while downloading <name>.``, code
                                                  ``invalid_image_url``
                                                  (riverscuomo/cuomputer#95): the stand-in
                                                  never leaves 127.0.0.1, and the bot must
                                                  send images inline anyway
================================================  ========================================

Not covered: ``input_audio`` and ``file`` parts, the 50 MB-per-request image total,
pixel-level decoding (any bytes with a valid signature pass), and animated GIFs (the guide
asks for non-animated ones but no error for them is documented or reported).

Hooked into ``OpenAIStandIn._invalid``: every chat completion's content parts are checked,
and models in ``OpenAIStandIn.text_only_models`` refuse image parts.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

_IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_DETAILS = ("low", "high", "auto")
_MAX_IMAGE_BYTES = 20 * 1024 * 1024
_FORMATS = "['png', 'jpeg', 'gif', 'webp']"
_PARTS_BY_ROLE = {
    "user": ("text", "image_url"),
    "system": ("text",),
    "developer": ("text",),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
}


@dataclass(frozen=True, slots=True)
class SentImage:
    """An image part as the model received it."""

    message: int
    mime: str
    data: bytes
    detail: str


def openai_error(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error body in OpenAI's shape: ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _bad(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return openai_error(message, "invalid_request_error", code, param)


def sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for sig, mime in _IMAGE_SIGNATURES.items() if data.startswith(sig)), None)


def _decode_data_url(url: str, where: str) -> bytes | dict[str, Any]:
    """The bytes of a ``data:image/...;base64,`` URL, or OpenAI's error body."""
    expected = (
        f"Invalid image URL: '{where}'. Expected a base64-encoded data URL with an image MIME "
        "type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got "
    )
    header, comma, payload = url.partition(",")
    if not comma or not header.startswith("data:image/") or not header.endswith(";base64"):
        return _bad(expected + "a value without the 'data:' prefix.", where, "invalid_value")
    if not payload:
        return _bad(expected + "empty base64-encoded bytes.", where, "invalid_value")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return _bad("Invalid image.", None, "invalid_image")


def _image_problem(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    image = part.get("image_url")
    if not isinstance(image, dict):
        got = "a string" if isinstance(image, str) else type(image).__name__
        return _bad(f"Invalid type for '{where}.image_url': expected an object, but got {got} "
                    "instead.", f"{where}.image_url", "invalid_type")
    url = image.get("url")
    if not isinstance(url, str):
        return _bad(f"Missing required parameter: '{where}.image_url.url'.",
                    f"{where}.image_url.url", "missing_required_parameter")
    detail = image.get("detail", "auto")
    if detail not in _DETAILS:
        return _bad(f"Invalid value: '{detail}'. Supported values are: 'low', 'high', and "
                    "'auto'.", f"{where}.image_url.detail", "invalid_value")
    if url.startswith(("http://", "https://")):
        name = url.split("?", 1)[0].rsplit("/", 1)[-1]
        return _bad(f"Timeout while downloading {name}.", None, "invalid_image_url")
    data = _decode_data_url(url, f"{where}.image_url.url")
    if isinstance(data, dict):
        return data
    if len(data) > _MAX_IMAGE_BYTES:
        return _bad("You uploaded an unsupported image. Please make sure your image is below "
                    f"20 MB in size and is of one the following formats: {_FORMATS}.",
                    None, "sanitizer_server_error")
    if sniff(data) is None:
        return _bad("You uploaded an unsupported image. Please make sure your image has of one "
                    f"the following formats: {_FORMATS}.", None, "invalid_image_format")
    return None


def _part_problem(
    part: Any, role: str, index: int, position: int, *, vision: bool
) -> dict[str, Any] | None:
    where = f"messages[{index}].content[{position}]"
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        return _bad(f"Missing required parameter: '{where}.type'.", f"{where}.type",
                    "missing_required_parameter")
    kind = part["type"]
    if kind == "image_url" and role != "user":
        return _bad(f"Invalid 'messages[{index}]'. Image URLs are only allowed for messages "
                    f"with role 'user', but this message with role '{role}' contains an image "
                    "URL.", f"messages[{index}]", None)
    allowed = _PARTS_BY_ROLE.get(role, ("text",))
    if kind not in allowed:
        listed = " and ".join(f"'{name}'" for name in allowed)
        return _bad(f"Invalid value: '{kind}'. Supported values are: {listed}.",
                    f"{where}.type", "invalid_value")
    if kind in ("text", "refusal") and not isinstance(part.get(kind), str):
        return _bad(f"Missing required parameter: '{where}.{kind}'.", f"{where}.{kind}",
                    "missing_required_parameter")
    if kind == "image_url":
        if not vision:
            return _bad("Invalid content type. image_url is only supported by certain models.",
                        f"messages.[{index}].content.[{position}].type", None)
        return _image_problem(part, where)
    return None


def content_problem(body: dict[str, Any], *, vision: bool = True) -> dict[str, Any] | None:
    """OpenAI's 400 error body for the first malformed content part, or None.

    ``vision=False`` plays a text-only model (``gpt-3.5-turbo``). Messages whose content is
    not a list are left to the stand-in's own message checks.
    """
    for index, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            continue
        role = str(message.get("role"))
        for position, part in enumerate(message["content"]):
            if problem := _part_problem(part, role, index, position, vision=vision):
                return problem
    return None


def sent_images(body: dict[str, Any]) -> list[SentImage]:
    """Every well-formed inline image part of a request, decoded, in order."""
    images = []
    for index, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            image = part.get("image_url") if isinstance(part, dict) else None
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url.startswith("data:"):
                continue
            data = _decode_data_url(url, "")
            if isinstance(data, bytes):
                mime = url[len("data:"):].split(";", 1)[0]
                images.append(SentImage(index, mime, data, image.get("detail", "auto")))
    return images
