"""Images made by Pillow in memory, for the image-input tests."""

from __future__ import annotations

import base64
import io
import os

from PIL import Image


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (3, 2), **options: object) -> bytes:
    mode = "RGBA" if options.pop("alpha", False) else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 60, 128)[: len(mode)]).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def noise_image(size: tuple[int, int] = (32, 32)) -> bytes:
    """A PNG of random pixels: its bytes (and their base64) are found nowhere else."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()
