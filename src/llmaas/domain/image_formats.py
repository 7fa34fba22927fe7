"""Recognising an image from its first bytes: its format and its size in pixels.

The gateway never decodes pixels. Engines decode every image anyway, and a full decoder on the gateway
would cost CPU on the request path and widen what a hostile file can reach (decompression bombs, codec
bugs) for no gain: all the gateway needs is to refuse what is not an image at all, and the dimensions
(for billing and limits). Those sit in each format's header, which is read here with ``struct``.
A file whose header is valid but whose pixel data is corrupt passes here and is refused by the engine.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers (baseline, progressive, lossless...): DHT, JPG and DAC share the range."""
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
"""Markers without a length field (TEM, restart markers)."""


class NotAnImage(ValueError):
    """The bytes are none of the accepted formats, or their header is cut short or inconsistent."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str
    width: int
    height: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def inspect_image(data: bytes) -> ImageInfo:
    """The format (PNG, JPEG, GIF or WebP, by magic bytes) and the dimensions of ``data``."""
    try:
        info = _inspect(data)
    except (struct.error, IndexError) as error:
        raise NotAnImage("truncated image header") from error
    if info.width <= 0 or info.height <= 0:
        raise NotAnImage("image has no pixels")
    return info


def _inspect(data: bytes) -> ImageInfo:
    if data.startswith(_PNG):
        if data[12:16] != b"IHDR":
            raise NotAnImage("PNG without IHDR")
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo("png", width, height)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return ImageInfo("gif", width, height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    raise NotAnImage("not a PNG, JPEG, GIF or WebP image")


def _jpeg(data: bytes) -> ImageInfo:
    """Walks the marker segments up to the first start-of-frame, which holds the dimensions."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            raise NotAnImage("corrupt JPEG segment")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_STANDALONE:
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return ImageInfo("jpeg", width, height)
        if marker in (0xD9, 0xDA) or length < 2:  # end of image or scan data before any frame
            break
        offset += 2 + length
    raise NotAnImage("JPEG without a frame header")


def _webp(data: bytes) -> ImageInfo:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit dimensions
        if data[23:26] != b"\x9d\x01\x2a":
            raise NotAnImage("corrupt WebP frame")
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":  # lossless: a signature byte, then 14-bit dimensions minus one
        if data[20] != 0x2F:
            raise NotAnImage("corrupt WebP lossless header")
        (bits,) = struct.unpack("<I", data[21:25])
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":  # extended: 24-bit canvas dimensions minus one
        if len(data) < 30:
            raise NotAnImage("truncated WebP header")
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("webp", width, height)
    raise NotAnImage("unknown WebP chunk")
