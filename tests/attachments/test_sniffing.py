"""Deciding what an attachment is: by signature and decoding, never raising, always bounded."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.attachments.download import DISCORD_CDN_ORIGINS, Origin, allowed_url
from bot.attachments.gif import first_frame
from bot.attachments.kinds import AttachmentRef, Kind
from bot.attachments.sniffing import (
    IMAGE_TYPES,
    decode_text,
    expected_kind,
    looks_like_text,
    sniff_image,
    text_byte_limit,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(8)
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + bytes(12)


def ref(filename: str, content_type: str | None = None) -> AttachmentRef:
    return AttachmentRef(1, filename, 10, "https://cdn.discordapp.com/attachments/1/1/x",
                         content_type=content_type)


# -- images ------------------------------------------------------------------------------


def test_the_four_formats_openai_accepts_are_recognised_by_their_signature() -> None:
    gif = b"GIF89a" + bytes(7)
    assert [sniff_image(data) for data in (PNG, JPEG, gif, WEBP)] == [
        "image/png", "image/jpeg", "image/gif", "image/webp"
    ]


def test_other_formats_and_text_are_not_images() -> None:
    bmp, pdf, riff_wav = b"BM" + bytes(20), b"%PDF-1.7\n", b"RIFF\x24\0\0\0WAVEfmt "
    assert [sniff_image(data) for data in (bmp, pdf, riff_wav, b"hello", b"")] == [None] * 5


@given(st.binary(max_size=64))
def test_sniffing_never_raises_and_only_names_accepted_types(data: bytes) -> None:
    assert sniff_image(data) in {*IMAGE_TYPES, None}


# -- before download: Discord's type first, then the name ---------------------------------


def test_discords_content_type_wins_over_the_extension() -> None:
    assert expected_kind(ref("notes.txt", "application/pdf")) is Kind.BINARY
    assert expected_kind(ref("photo.bin", "image/png")) is Kind.IMAGE
    assert expected_kind(ref("data", "application/json; charset=utf-8")) is Kind.TEXT


def test_without_a_content_type_the_name_decides() -> None:
    kinds = [expected_kind(ref(name)) for name in
             ("app.log", "Dockerfile", "shot.PNG", "report.pdf", "song.mp3", "mystery")]
    assert kinds == [Kind.TEXT, Kind.TEXT, Kind.IMAGE, Kind.BINARY, Kind.BINARY, Kind.UNKNOWN]


def test_unsupported_image_formats_are_not_read() -> None:
    assert expected_kind(ref("photo.heic", "image/heic")) is Kind.BINARY
    assert expected_kind(ref("logo.svg", "image/svg+xml")) is Kind.TEXT


@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=60)))
def test_expected_kind_never_raises(filename: str, content_type: str | None) -> None:
    assert expected_kind(ref(filename, content_type)) in set(Kind)


# -- text ----------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\0\ufffd"), max_size=300))
def test_any_utf8_text_without_nul_is_text(text: str) -> None:
    """Surrogates cannot be encoded, and U+FFFD is what an undecodable byte looks like."""
    assert looks_like_text(text.encode())


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_a_nul_byte_means_binary(before: bytes, after: bytes) -> None:
    assert not looks_like_text(before + b"\0" + after)


def test_a_latin1_log_is_still_text_with_its_odd_bytes_replaced() -> None:
    data = "Erreur: café introuvable à 10:02\n".encode("latin-1") * 5
    assert looks_like_text(data)
    text, truncated = decode_text(data, 10_000)
    assert "caf\ufffd introuvable" in text
    assert not truncated


def test_random_binary_without_nul_is_not_text() -> None:
    data = bytes(range(128, 256)) * 4
    assert not looks_like_text(data)


def test_a_download_cut_inside_a_character_does_not_count_as_undecodable() -> None:
    data = ("é" * 50).encode()[:-1]
    assert looks_like_text(data, complete=False)
    text, truncated = decode_text(data, 1_000, complete=False)
    assert text == "é" * 49
    assert truncated


@given(st.binary(max_size=2_000), st.integers(min_value=1, max_value=500), st.booleans())
def test_decoding_never_exceeds_the_cap(data: bytes, max_chars: int, complete: bool) -> None:
    text, truncated = decode_text(data, max_chars, complete=complete)
    assert len(text) <= max_chars
    assert truncated or complete


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
def test_decoding_keeps_the_start_of_the_text(text: str, max_chars: int) -> None:
    normalised = text.replace("\r\n", "\n").removeprefix("\ufeff")
    decoded, truncated = decode_text(text.encode(), max_chars)
    assert decoded == normalised[:max_chars]
    assert truncated == (len(normalised) > max_chars)


@given(st.text(min_size=1, max_size=200), st.integers(min_value=1, max_value=100))
def test_the_byte_limit_always_holds_enough_bytes_for_the_cap(text: str, max_chars: int) -> None:
    """Downloading ``text_byte_limit`` bytes never leaves the model short of characters."""
    data = codecs.BOM_UTF8 + text.encode()
    limit = text_byte_limit(max_chars, max_bytes=10**9)
    decoded, _ = decode_text(data[:limit], max_chars, complete=len(data) <= limit)
    assert len(decoded) == min(max_chars, len(text.replace("\r\n", "\n")))


# -- GIF: the first frame ------------------------------------------------------------------


def sub_blocks(payload: bytes) -> bytes:
    chunks = [payload[start:start + 255] for start in range(0, len(payload), 255)]
    return b"".join(bytes([len(chunk)]) + chunk for chunk in chunks) + b"\0"


def frame(pixels: bytes, *, local_table: bool) -> tuple[bytes, bytes]:
    """(graphic control extension, image block) of one frame."""
    control = b"\x21\xf9\x04\x00\x0a\x00\x00\x00"
    packed = 0x80 if local_table else 0
    table = bytes(6) if local_table else b""
    image = b"\x2c" + bytes(8) + bytes([packed]) + table + b"\x02" + sub_blocks(pixels)
    return control, image


def gif(frames: list[tuple[bytes, bytes]], *, global_table: bool, loop: bool) -> bytes:
    screen = b"\x01\x00\x01\x00" + bytes([0x80 if global_table else 0]) + b"\0\0"
    table = bytes(6) if global_table else b""
    netscape = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00" if loop else b""
    body = b"".join(control + image for control, image in frames)
    return b"GIF89a" + screen + table + netscape + b"\x21\xfe" + sub_blocks(b"hi") + body + b";"


frames_strategy = st.lists(
    st.tuples(st.binary(max_size=600), st.booleans()), min_size=1, max_size=4
)


@given(frames_strategy, st.booleans(), st.booleans())
def test_the_first_frame_is_a_gif_of_only_that_frame(
    specs: list[tuple[bytes, bool]], global_table: bool, loop: bool
) -> None:
    frames = [frame(pixels, local_table=local) for pixels, local in specs]
    animated = gif(frames, global_table=global_table, loop=loop)
    expected = gif(frames[:1], global_table=global_table, loop=False)
    comment = b"\x21\xfe" + sub_blocks(b"hi")
    assert first_frame(animated) == expected.replace(comment, b"", 1)


@given(frames_strategy, st.booleans())
def test_first_frame_is_idempotent(specs: list[tuple[bytes, bool]], global_table: bool) -> None:
    once = first_frame(gif([frame(p, local_table=t) for p, t in specs],
                           global_table=global_table, loop=True))
    assert once is not None
    assert first_frame(once) == once


@given(st.binary(max_size=300))
def test_first_frame_never_raises_on_any_bytes(data: bytes) -> None:
    for candidate in (data, b"GIF89a" + data):
        result = first_frame(candidate)
        assert result is None or (result.startswith(b"GIF8") and result.endswith(b";"))
        assert result is None or len(result) <= len(candidate) + 1


def test_a_gif_cut_before_its_first_frame_ends_is_refused() -> None:
    whole = gif([frame(b"x" * 400, local_table=False)], global_table=True, loop=False)
    assert first_frame(whole) is not None
    assert first_frame(whole[: len(whole) - 200]) is None


# -- the host allowlist --------------------------------------------------------------------

schemes = st.sampled_from(["https", "http", "HTTPS", "ftp", "file", "javascript"])
hosts = st.sampled_from([
    "cdn.discordapp.com", "media.discordapp.net", "CDN.DiscordApp.com", "discordapp.com",
    "cdn.discordapp.com.evil.example", "evil.example", "127.0.0.1", "localhost",
    "169.254.169.254", "[::1]", "cdn.discordapp.co",
])
ports = st.sampled_from(["", ":443", ":80", ":8443", ":0"])
users = st.sampled_from(["", "cdn.discordapp.com@", "user:pw@"])
paths = st.sampled_from([
    "/attachments/1/2/a.png", "/ephemeral-attachments/1/2/a.png", "/avatars/1/a.png",
    "/attachments/../admin", "", "/", "/x?u=https://cdn.discordapp.com/attachments/1/2/a",
])


@settings(max_examples=2_000)
@given(schemes, users, hosts, ports, paths)
def test_only_discord_attachment_urls_pass(
    scheme: str, user: str, host: str, port: str, path: str
) -> None:
    url = f"{scheme}://{user}{host}{port}{path}"
    parsed = allowed_url(url)
    discord_host = host.lower() in {"cdn.discordapp.com", "media.discordapp.net"}
    expected = (
        scheme.lower() == "https" and not user and discord_host and port in ("", ":443")
        and path.startswith(("/attachments/", "/ephemeral-attachments/"))
        and "/../" not in path  # the URL's own path is /admin once dot segments resolve
    )
    assert (parsed is not None) == expected, url
    if parsed is not None:
        assert Origin(parsed.scheme, parsed.host or "", parsed.port or 0) in DISCORD_CDN_ORIGINS


@given(st.text(max_size=80))
def test_the_allowlist_never_raises_and_refuses_free_text(text: str) -> None:
    parsed = allowed_url(text)
    assert parsed is None or parsed.host in {"cdn.discordapp.com", "media.discordapp.net"}


def test_a_test_origin_must_be_passed_explicitly() -> None:
    local = "http://127.0.0.1:8123/attachments/1/2/a.png"
    assert allowed_url(local) is None
    assert allowed_url(local, {Origin("http", "127.0.0.1", 8123)}) is not None
    assert allowed_url(local.replace("8123", "8124"), {Origin("http", "127.0.0.1", 8123)}) is None
