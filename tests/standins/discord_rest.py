"""REST building blocks of the Discord stand-in: request recording, Discord-shaped errors
and headers, faults, and the message factory that builds and validates messages the way
Discord does.

Every response carries ``Via: 1.1 google`` (discord.py treats a 429 without ``Via`` as a
Cloudflare ban) and ``X-RateLimit-*`` headers for a bucket that is never exhausted, and JSON
bodies are ``Content-Type: application/json`` exactly (discord.py compares the header).

Validation (:meth:`MessageFactory.check_body`): ``content`` over 2000 characters, more than
10 embeds or an embed description over 4096 characters → 400 ``Invalid Form Body`` (50035,
with Discord's nested ``errors``); nothing to send (no content, embeds, files, stickers,
components or poll) → 400 50006. A reply to an unknown message → 400 50035 unless
``fail_if_not_exists`` is false, in which case the message goes out without reference.

Files (Discord API reference, "Uploading Files"): a create or edit may carry files as
``multipart/form-data`` with the JSON body in ``payload_json`` and each file in a
``files[n]`` part, described by ``attachments[].id == n``; more than 10 files → 400 50035
(``files``: "Must be 10 or fewer in length."), a file over the 10 MiB default upload limit
→ 413 40005 "Request entity too large". Each file's bytes are kept in
``RecordedRequest.files`` and served from the CDN route (``/attachments/...``,
:mod:`tests.standins.discord_cdn`).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.standins.discord_world import FLAG_LOADING, World, iso, snowflake_time

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_DESCRIPTION = 4096
MAX_FILES = 10
MAX_FILE_BYTES = 10 * 1024 * 1024
SENDABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)  # SUPPRESS_EMBEDS, SILENT, COMPONENTS_V2
MISSING_PERMISSIONS: dict[str, Any] = {"message": "Missing Permissions", "code": 50013}


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One file part of a multipart body (``files[n]``)."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(slots=True)
class RecordedRequest:
    """One REST call: ``path`` is without ``/api/v10``; ``json`` is the parsed body (the
    ``payload_json`` part of a multipart body) or None; ``status``/``response`` are what
    the stand-in answered; ``received_at`` is ``time.perf_counter()`` once the body was
    read (benchmarks time replies by it)."""

    method: str
    path: str
    json: Any
    query: dict[str, str]
    headers: dict[str, str]
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0
    response: Any = None
    received_at: float = field(default_factory=time.perf_counter)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} → {self.status}>"


class ApiError(Exception):
    """Raised by handlers: becomes a response with this status, body and extra headers."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def api_error(status: int, code: int, message: str) -> ApiError:
    return ApiError(status, {"message": message, "code": code})


def unknown(what: str, code: int) -> ApiError:
    """Discord's 404s: ``unknown("Message", 10008)`` → ``{"message": "Unknown Message"...}``."""
    return api_error(404, code, f"Unknown {what}")


def form_error(path: Sequence[str | int], code: str, message: str) -> ApiError:
    """400 ``Invalid Form Body`` (50035) with the error nested under ``path``."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return ApiError(400, {"message": "Invalid Form Body", "code": 50035, "errors": errors})


_DEFAULT_FAULT_BODIES: dict[int, dict[str, Any]] = {
    400: {"message": "400: Bad Request", "code": 0},
    401: {"message": "401: Unauthorized", "code": 0},
    403: MISSING_PERMISSIONS,
    404: {"message": "404: Not Found", "code": 0},
    429: {"message": "You are being rate limited.", "retry_after": 0.2, "global": False},
    500: {"message": "500: Internal Server Error", "code": 0},
    502: {"message": "502: Bad Gateway", "code": 0},
    503: {"message": "503: Service Unavailable", "code": 0},
}


HANG = 0  # a Fault "status" for a request that is never answered


@dataclass(slots=True)
class Fault:
    """A queued fault: the next ``remaining`` matching calls get this answer."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int

    @classmethod
    def make(
        cls,
        method: str,
        path_regex: str,
        status: int,
        *,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
        times: int,
    ) -> Fault:
        if body is None:
            body = _DEFAULT_FAULT_BODIES.get(status, {"message": f"{status}", "code": 0})
        fault_headers: dict[str, str] = {}
        if status == 429:
            retry_after = str(body.get("retry_after", 1.0))
            fault_headers = {
                "Retry-After": retry_after, "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": retry_after,
                "X-RateLimit-Scope": "global" if body.get("global") else "user",
            }
        fault_headers.update(headers or {})
        return cls(method.upper(), re.compile(path_regex), status, body, fault_headers, times)

    def matches(self, req: RecordedRequest) -> bool:
        return self.method in ("*", req.method) and self.pattern.fullmatch(req.path) is not None


async def read_request(request: web.Request) -> RecordedRequest:
    """Parses a REST call: JSON, or multipart with ``payload_json`` and ``files[n]``."""
    path = "/" + request.match_info["path"]
    body: Any = None
    files: list[RecordedFile] = []
    if request.content_type.startswith("multipart/"):
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            else:
                content_type = part.headers.get("Content-Type")
                if content_type in (None, "application/octet-stream") and part.filename:
                    content_type = mimetypes.guess_type(part.filename)[0] or content_type
                files.append(RecordedFile(part.name or "", part.filename, content_type, data))
    elif request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
    return RecordedRequest(
        method=request.method, path=path, json=body, query=dict(request.query),
        headers=dict(request.headers), files=files,
    )


def respond(status: int, body: Any, path: str, extra_headers: dict[str, str]) -> web.Response:
    """A response with Discord's headers; ``body=None`` is an empty response."""
    bucket = hashlib.md5(re.sub(r"\d{15,}", "id", path).encode()).hexdigest()
    headers = {
        "Via": "1.1 google",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1.0:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        **extra_headers,
    }
    if body is None:
        return web.Response(status=status, headers=headers)
    headers["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)


def empty_message() -> ApiError:
    return api_error(400, 50006, "Cannot send an empty message")


def embed(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich", "content_scan_version": 0, **data}


Attach = Callable[[str, bytes, str | None], dict[str, Any]]


class MessageFactory:
    """Builds stored messages; ``attach(filename, data, content_type)`` hosts file bytes."""

    def __init__(self, world: World, attach: Attach) -> None:
        self.world = world
        self.attach = attach

    def base(
        self,
        channel_id: int,
        content: str,
        author: dict[str, Any],
        embeds: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A plain message (type 0) with a fresh snowflake, timestamped now."""
        message_id = self.world.snowflakes.next()
        message: dict[str, Any] = {
            "id": str(message_id), "type": 0, "content": content, "channel_id": str(channel_id),
            "author": author, "attachments": [], "embeds": [embed(e) for e in embeds or []],
            "mentions": [], "mention_roles": self.world.role_mentions_in(content),
            "pinned": False, "mention_everyone": False, "tts": False,
            "timestamp": iso(snowflake_time(message_id)), "edited_timestamp": None, "flags": 0,
            "components": [],
        }
        channel = self.world.channels.get(channel_id)
        if channel is not None and channel["type"] == 11:
            message["position"] = channel["total_message_sent"]
        return message

    def add_mentions(self, message: dict[str, Any], extra: list[dict[str, Any]]) -> None:
        """Users mentioned in the content, then ``extra`` ones, each once."""
        known = {user["id"] for user in message["mentions"]}
        for user in [*self.world.mentions_in(message["content"], None), *extra]:
            if user["id"] not in known:
                known.add(user["id"])
                message["mentions"].append(user)

    def reference(self, channel_id: int, message_id: int) -> dict[str, Any]:
        reference = {"type": 0, "channel_id": str(channel_id), "message_id": str(message_id)}
        guild_id = self.world.guild_of(channel_id)
        if guild_id is not None:
            reference["guild_id"] = str(guild_id)
        return reference

    def complete_attachment(self, attachment: dict[str, Any]) -> dict[str, Any]:
        """A test's (possibly partial) attachment dict, completed and hosted."""
        if "url" in attachment and "id" in attachment:
            return {"size": 0, "proxy_url": attachment["url"], **attachment}
        filename = attachment.get("filename", "file.bin")
        made = self.attach(filename, b"", attachment.get("content_type"))
        return {**made, **{k: v for k, v in attachment.items() if k not in ("id", "url")}}

    @staticmethod
    def check_body(
        body: dict[str, Any],
        files: list[RecordedFile],
        *,
        prefix: Sequence[str] = (),
        partial: bool = False,
    ) -> None:
        """Discord's limits; ``partial`` (edits) skips the "nothing to send" check."""
        content = body.get("content")
        if isinstance(content, str) and len(content) > MAX_CONTENT:
            raise form_error(
                [*prefix, "content"], "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CONTENT} or fewer in length.",
            )
        embeds = body.get("embeds") or []
        if len(embeds) > MAX_EMBEDS:
            raise form_error(
                [*prefix, "embeds"], "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_EMBEDS} or fewer in length.",
            )
        for index, item in enumerate(embeds):
            if len(item.get("description") or "") > MAX_EMBED_DESCRIPTION:
                raise form_error(
                    [*prefix, "embeds", index, "description"], "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length.",
                )
        if len(files) > MAX_FILES:
            raise form_error(
                [*prefix, "files"], "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_FILES} or fewer in length.",
            )
        if any(len(file.data) > MAX_FILE_BYTES for file in files):
            raise api_error(413, 40005, "Request entity too large")
        if partial:
            return
        parts = (
            (content or "").strip(), embeds, files, body.get("sticker_ids"),
            body.get("components"), body.get("poll"),
        )
        if not any(parts):
            raise empty_message()

    def attachments_from(
        self, body: dict[str, Any], files: list[RecordedFile]
    ) -> list[dict[str, Any]]:
        """Hosts uploaded ``files[n]`` parts, named as the body's ``attachments`` say."""
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        made = []
        for file in files:
            index = file.field.removeprefix("files[").removesuffix("]")
            info = described.get(index, {})
            filename = info.get("filename") or file.filename or "file.bin"
            attachment = self.attach(filename, file.data, file.content_type)
            if info.get("description"):
                attachment["description"] = info["description"]
            made.append(attachment)
        return made

    def bot_message(
        self, channel_id: int, body: dict[str, Any], files: list[RecordedFile]
    ) -> dict[str, Any]:
        """What ``POST /channels/{id}/messages`` stores, validated the way Discord does."""
        self.check_body(body, files)
        message = self.base(
            channel_id, body.get("content") or "", self.world.bot_user, body.get("embeds")
        )
        message["tts"] = bool(body.get("tts"))
        message["components"] = body.get("components") or []
        message["flags"] = int(body.get("flags") or 0) & SENDABLE_FLAGS
        message["attachments"] = self.attachments_from(body, files)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if body.get("sticker_ids"):
            message["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in body["sticker_ids"]
            ]
        extra: list[dict[str, Any]] = []
        reference = body.get("message_reference")
        if reference and reference.get("type", 0) == 0:
            extra = self._apply_reference(message, channel_id, reference, body)
        self.add_mentions(message, extra)
        return message

    def _apply_reference(
        self,
        message: dict[str, Any],
        channel_id: int,
        reference: dict[str, Any],
        body: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Makes ``message`` a reply; returns the replied user if they are to be pinged."""
        ref_channel = int(reference.get("channel_id") or channel_id)
        referenced = self.world.get(ref_channel, int(reference.get("message_id") or 0))
        if referenced is None:
            if reference.get("fail_if_not_exists", True):
                raise form_error(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            return []
        message["type"] = 19
        message["message_reference"] = self.reference(ref_channel, int(referenced["id"]))
        allowed = body.get("allowed_mentions")
        ping = allowed.get("replied_user", False) if allowed is not None else True
        return [dict(referenced["author"])] if ping else []

    def edit(
        self,
        message: dict[str, Any],
        body: dict[str, Any],
        files: list[RecordedFile],
        *,
        prefix: Sequence[str] = (),
    ) -> None:
        """Applies a PATCH body in place; on a validation error the message is unchanged.
        Filling a "thinking" message clears its LOADING flag instead of marking an edit."""
        self.check_body(body, files, prefix=prefix, partial=True)
        before = json.dumps(message)
        try:
            self._apply_edit(message, body, files)
        except ApiError:
            message.clear()
            message.update(json.loads(before))
            raise

    def _apply_edit(
        self, message: dict[str, Any], body: dict[str, Any], files: list[RecordedFile]
    ) -> None:
        if "content" in body:
            message["content"] = body["content"] or ""
            message["mentions"] = []
            self.add_mentions(message, [])
            message["mention_roles"] = self.world.role_mentions_in(message["content"])
        if "embeds" in body:
            message["embeds"] = [embed(e) for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = body["components"] or []
        if "attachments" in body or files:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids]
            message["attachments"] = kept + self.attachments_from(body, files)
        if body.get("flags") is not None:
            sticky = message["flags"] & ~SENDABLE_FLAGS
            message["flags"] = sticky | (int(body["flags"]) & SENDABLE_FLAGS)
        if message["flags"] & FLAG_LOADING:
            message["flags"] &= ~FLAG_LOADING
        else:
            message["edited_timestamp"] = iso()
        parts = (
            message["content"].strip(), message["embeds"], message["attachments"],
            message["components"], message.get("sticker_items"),
        )
        if not any(parts):
            raise empty_message()
