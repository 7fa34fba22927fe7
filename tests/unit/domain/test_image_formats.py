"""Format and dimensions from the header alone, for every accepted format and its variants."""

from __future__ import annotations

import pytest

from llmaas.domain.image_formats import NotAnImage, inspect_image
from tests.support.images import image_bytes


@pytest.mark.parametrize(
    ("fmt", "options", "expected"),
    [
        ("PNG", {}, "png"),
        ("JPEG", {}, "jpeg"),
        ("JPEG", {"progressive": True}, "jpeg"),
        ("GIF", {}, "gif"),
        ("WEBP", {}, "webp"),
        ("WEBP", {"lossless": True}, "webp"),
        ("WEBP", {"alpha": True}, "webp"),
    ],
)
def test_format_and_dimensions_from_the_header(
    fmt: str, options: dict[str, object], expected: str
) -> None:
    info = inspect_image(image_bytes(fmt, (37, 21), **options))
    assert (info.format, info.width, info.height) == (expected, 37, 21)
    assert info.media_type == f"image/{expected}"


def test_webp_extended_header() -> None:
    data = image_bytes(
        "WEBP", (5, 4), alpha=True, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"
    )
    assert data[12:16] == b"VP8X"
    assert inspect_image(data).width == 5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world",
        b"%PDF-1.7 not an image",
        b"\x89PNG\r\n\x1a\n",  # the signature, nothing after
        b"\xff\xd8\xff\xe0\x00",  # JPEG cut in its first segment
        b"GIF89a\x01",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    ],
)
def test_what_is_not_an_image_or_is_cut_short_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        inspect_image(data)


def test_an_image_without_pixels_is_refused() -> None:
    png = bytearray(image_bytes("PNG"))
    png[16:24] = bytes(8)  # IHDR width and height 0
    with pytest.raises(NotAnImage):
        inspect_image(bytes(png))


def test_a_jpeg_cut_before_its_frame_is_refused() -> None:
    jpeg = image_bytes("JPEG")
    with pytest.raises(NotAnImage):
        inspect_image(jpeg[:20])
