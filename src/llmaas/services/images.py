"""Image input in chat: checking every image before routing, and inlining those named by URL.

Images arrive as ``data:`` URLs (base64), or as ``http(s)`` URLs when the operator lets the gateway
fetch them (``LLMAAS_FETCH_IMAGE_URLS``). Either way the engine receives a ``data:`` URL: an engine that
fetched URLs itself would reach whatever network it sits on, which is the server-side request forgery
the fetcher's address checks exist to prevent, so engines never fetch. Each image is recognised by its
magic bytes (``domain/image_formats.py``); what is not a PNG, JPEG, GIF or WebP is a 400
``invalid_image``, an image past the byte limit a 413 ``image_too_large``, both naming the part
(``messages[i].content[j]``).

What images cost is known to the engine only; the gateway charges a model's ``image_tokens`` per image
up front (admission and the context estimate) and settlement corrects to what the engine reports.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass

from llmaas.domain.errors import InvalidRequest, LlmaasError, PayloadTooLarge
from llmaas.domain.image_formats import NotAnImage, inspect_image
from llmaas.openai_schema.chat import ChatCompletionRequest, ImageUrlPart, Message
from llmaas.ports.images import ImageFetcher

FETCH_SETTING = "LLMAAS_FETCH_IMAGE_URLS"


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_images: int = 16


@dataclass(frozen=True, slots=True)
class ImageLoad:
    """What a request's images weigh, for the context estimate and admission."""

    count: int = 0
    url_chars: int = 0
    """Characters of image URLs in the client's body: bytes of the body that are not prompt text,
    so admission's body-size bound of the prompt need not count them (see ``demand.py``)."""


@dataclass(frozen=True, slots=True)
class _Located:
    message: int
    part: int
    image: ImageUrlPart

    @property
    def param(self) -> str:
        return f"messages[{self.message}].content[{self.part}]"


class ImageInliner:
    def __init__(self, limits: ImageLimits, fetcher: ImageFetcher | None = None) -> None:
        self._limits = limits
        self._fetcher = fetcher
        """``None``: fetching URLs is disabled."""

    async def inline(
        self, request: ChatCompletionRequest
    ) -> tuple[ChatCompletionRequest, ImageLoad]:
        """The request with every image checked and carried as a ``data:`` URL, and its load."""
        located = list(_images(request.messages))
        if not located:
            return request, ImageLoad()
        if len(located) > self._limits.max_images:
            raise InvalidRequest(
                f"Too many images: {len(located)}; at most {self._limits.max_images} per request.",
                param="messages",
                code="too_many_images",
            )
        urls = {(at.message, at.part): await self._data_url(at) for at in located}
        load = ImageLoad(len(located), sum(len(at.image.image_url.url) for at in located))
        return _with_urls(request, urls), load

    async def _data_url(self, at: _Located) -> str:
        url = at.image.image_url.url
        try:
            if url[:5].lower() == "data:":
                return self._checked(decode_data_url(url, self._limits.max_bytes), url)
            if url[:7].lower() == "http://" or url[:8].lower() == "https://":
                return self._checked(await self._fetch(url), None)
        except LlmaasError as error:
            error.param = error.param or at.param
            raise
        raise InvalidRequest(
            "An image URL must be a data: URL (base64) or an http(s) URL.",
            param=at.param,
            code="invalid_image_url",
        )

    async def _fetch(self, url: str) -> bytes:
        if self._fetcher is None:
            raise InvalidRequest(
                "This gateway does not fetch image URLs; send the image as a data: URL "
                f"(base64), or ask the operator to set {FETCH_SETTING}=true.",
                code="image_url_fetch_disabled",
            )
        return await self._fetcher.fetch(url, self._limits.max_bytes)

    def _checked(self, data: bytes, original: str | None) -> str:
        """A ``data:`` URL whose media type is the one the bytes really are; the client's own
        base64 text is kept when it sent one, so the engine gets exactly the bytes sent."""
        check_size(len(data), self._limits.max_bytes)
        try:
            info = inspect_image(data)
        except NotAnImage as error:
            raise InvalidRequest(
                f"The image could not be decoded ({error}); send a PNG, JPEG, GIF or WebP image.",
                code="invalid_image",
            ) from error
        payload = (
            original.partition(",")[2]
            if original is not None
            else base64.b64encode(data).decode("ascii")
        )
        return f"data:{info.media_type};base64,{payload}"


def decode_data_url(url: str, max_bytes: int) -> bytes:
    """The bytes of a base64 ``data:`` URL; its size is checked before anything is decoded."""
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise InvalidRequest(
            "An image data: URL must be base64 encoded (data:image/png;base64,...).",
            code="invalid_image",
        )
    media_type = header[5:].partition(";")[0].lower()
    if media_type and not media_type.startswith("image/"):
        raise InvalidRequest(
            "An image data: URL must have an image/* media type.", code="invalid_image"
        )
    check_size(len(payload) // 4 * 3 - 2, max_bytes)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest(
            "The image's base64 data is malformed.", code="invalid_image"
        ) from error


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PayloadTooLarge(
            f"The image is larger than this gateway's limit of {max_bytes} bytes.",
            code="image_too_large",
        )


def image_count(request: ChatCompletionRequest) -> int:
    return sum(1 for _ in _images(request.messages))


def _images(messages: list[Message]) -> Iterator[_Located]:
    for i, message in enumerate(messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if isinstance(part, ImageUrlPart):
                    yield _Located(i, j, part)


def _with_urls(
    request: ChatCompletionRequest, urls: dict[tuple[int, int], str]
) -> ChatCompletionRequest:
    messages: list[Message] = []
    for i, message in enumerate(request.messages):
        if not isinstance(message.content, list) or not any(key[0] == i for key in urls):
            messages.append(message)
            continue
        parts = [
            part.model_copy(
                update={"image_url": part.image_url.model_copy(update={"url": urls[(i, j)]})}
            )
            if isinstance(part, ImageUrlPart)
            else part
            for j, part in enumerate(message.content)
        ]
        messages.append(message.model_copy(update={"content": parts}))
    return request.model_copy(update={"messages": messages})
