"""The first frame of a GIF, as a GIF of its own.

OpenAI's vision guide ("Image input requirements") accepts only *non-animated* GIFs, and
Discord is full of animated ones. Cutting the file after its first image needs no pixel
decoding, only a walk over the block structure of the GIF89a specification (header, logical
screen descriptor, optional global colour table, then extension and image blocks made of
length-prefixed sub-blocks), so no imaging library (and none of its decompression-bomb
surface) is needed. The walk only moves forward, so it is linear in the input.
"""

from __future__ import annotations

_HEADER = 6
_SCREEN = 7
_IMAGE_DESCRIPTOR = 9
_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_GRAPHIC_CONTROL = 0xF9


def _colour_table(packed: int) -> int:
    """Bytes of the colour table a descriptor's packed field announces (0 if none)."""
    return 3 * (2 ** ((packed & 0x07) + 1)) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, at: int) -> int | None:
    """The index just after a sub-block chain's zero terminator, or None if cut short."""
    while at < len(data):
        size = data[at]
        at += 1 + size
        if size == 0:
            return at
    return None


def first_frame(data: bytes) -> bytes | None:
    """The GIF reduced to its first image (with the graphic control extension that belongs
    to it), or None when ``data`` is not a well-formed GIF up to the end of that image.

    Application extensions (the NETSCAPE2.0 loop), comments and later frames are dropped.
    """
    if not data.startswith((b"GIF87a", b"GIF89a")) or len(data) < _HEADER + _SCREEN:
        return None
    at = _HEADER + _SCREEN + _colour_table(data[_HEADER + 4])
    if at > len(data):
        return None
    kept = [data[:at]]
    control: bytes = b""
    while at < len(data):
        block = data[at]
        if block == _EXTENSION:
            if at + 1 >= len(data):
                return None
            end = _skip_sub_blocks(data, at + 2)
            if end is None:
                return None
            if data[at + 1] == _GRAPHIC_CONTROL:
                control = data[at:end]
            at = end
        elif block == _IMAGE:
            start = at
            at += 1 + _IMAGE_DESCRIPTOR
            if at > len(data):
                return None
            at += _colour_table(data[at - 1]) + 1  # the table, then the LZW minimum code size
            end = _skip_sub_blocks(data, at) if at <= len(data) else None
            if end is None:
                return None
            kept += [control, data[start:end], bytes([_TRAILER])]
            return b"".join(kept)
        else:
            return None
    return None
