"""Image input for the embedded llama.cpp engine: a multimodal projector (``mmproj``) run by libmtmd.

llama-cpp-python's multimodal chat handlers run a prompt loop of their own, which would bypass this
engine's template, stop sequences, log-probabilities and cancellation. So only the prompt goes through
libmtmd here, the way llama.cpp's server does it: the chat template is rendered with a media marker
where each image was, libmtmd cuts that text into text and image chunks, text chunks are evaluated by
``Llama.eval`` and image chunks are encoded and written into the KV cache by libmtmd. The engine's own
token loop then samples from the last text chunk, unaware that images were there.

Positions an image filled hold the token id ``-1`` in ``Llama.input_ids``: no real prompt matches it, so
``Llama.generate``'s prefix cache reuses the text before an image and never an image's positions.

Image bytes come from the gateway as ``data:`` URLs (it fetched or refused every other URL before
routing), are decoded by libmtmd (stb_image: PNG, JPEG, GIF, BMP...) and live in memory only.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import llama_cpp.mtmd_cpp as mtmd
from llama_cpp.llama import Llama

from llmaas.domain.errors import BackendUnavailable, ContextLengthExceeded, InvalidRequest
from llmaas.openai_schema.chat import ChatCompletionRequest, ImageUrlPart

IMAGE_TOKEN = -1
"""What ``Llama.input_ids`` holds where an image was evaluated."""


@dataclass(frozen=True, slots=True)
class ImagePrompt:
    """A rendered conversation with a media marker per image, and the images in the same order."""

    text: str
    images: tuple[bytes, ...]
    add_special: bool
    """Whether libmtmd adds the beginning-of-sequence token (when the template did not)."""


def images_of(request: ChatCompletionRequest) -> tuple[bytes, ...]:
    """The request's images, in the order the template renders them (messages, then parts)."""
    found = []
    for index, message in enumerate(request.messages):
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            continue
        for part_index, part in enumerate(content):
            if isinstance(part, ImageUrlPart):
                found.append(
                    _data_url_bytes(part.image_url.url, f"messages[{index}].content[{part_index}]")
                )
    return tuple(found)


def _data_url_bytes(url: str, param: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not (comma and header.startswith("data:") and header.endswith(";base64")):
        raise InvalidRequest(
            "The embedded engine reads images sent as base64 data URLs only.",
            param=param,
            code="invalid_image",
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            "The image is not valid base64.", param=param, code="invalid_image"
        ) from None


class Projector:
    """One model's libmtmd context. Every call comes from the model's worker thread, except
    :meth:`count`, which the gateway calls beside it: a lock keeps the two apart (tokenizing only
    preprocesses images, so the wait is short)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._context: Any = None
        self._lock = threading.Lock()

    @property
    def marker(self) -> str:
        return str(mtmd.mtmd_default_marker().decode("utf-8"))

    def load(self, model: Llama, threads: int) -> None:
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = threads
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        context = mtmd.mtmd_init_from_file(str(self._path).encode(), model.model, params)
        if context is None:
            raise BackendUnavailable(
                f"The projector '{self._path.name}' could not be loaded for this model "
                "(a different architecture, or an embedding size that does not match)."
            )
        if not mtmd.mtmd_support_vision(context):
            mtmd.mtmd_free(context)
            raise BackendUnavailable(f"The projector '{self._path.name}' has no vision encoder.")
        self._context = context

    def close(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            mtmd.mtmd_free(context)

    def count(self, prompt: ImagePrompt) -> int:
        """Prompt tokens, images included: what the engine will bill and what the context holds."""
        with self._lock, self._chunks(prompt) as chunks:
            return int(mtmd.mtmd_helper_get_n_tokens(chunks))

    def evaluate(self, model: Llama, prompt: ImagePrompt) -> list[int]:
        """Fill the KV cache with the prompt; returns it as ``Llama.generate`` should be given it
        (so that it finds the whole prompt cached and samples at once)."""
        with self._lock, self._chunks(prompt) as chunks:
            total = int(mtmd.mtmd_helper_get_n_tokens(chunks))
            if total >= model.n_ctx():
                raise ContextLengthExceeded(
                    f"This model's maximum context length is {model.n_ctx()} tokens. However, the "
                    f"input has {total} tokens, images included. Please reduce the length of the "
                    "input or the number of images.",
                    param="messages",
                )
            model.reset()  # type: ignore[no-untyped-call]
            model._ctx.kv_cache_clear()  # type: ignore[no-untyped-call]  # noqa: SLF001
            count = mtmd.mtmd_input_chunks_size(chunks)
            last_is_text = False
            for index in range(count):
                chunk = mtmd.mtmd_input_chunks_get(chunks, index)
                if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                    model.eval(_text_tokens(chunk))
                    last_is_text = True
                else:
                    self._evaluate_image(model, chunk)
                    last_is_text = False
            if not last_is_text:
                raise InvalidRequest("The prompt cannot end with an image.", param="messages")
            return [int(token) for token in model.input_ids[: model.n_tokens]]

    def _evaluate_image(self, model: Llama, chunk: Any) -> None:
        start = model.n_tokens
        reached = llama_cpp.llama_pos(0)
        failed = mtmd.mtmd_helper_eval_chunk_single(
            self._context,
            model._ctx.ctx,  # noqa: SLF001
            chunk,
            llama_cpp.llama_pos(start),
            llama_cpp.llama_seq_id(0),
            model.n_batch,
            False,
            ctypes.byref(reached),
        )
        if failed:
            model.reset()  # type: ignore[no-untyped-call]
            raise BackendUnavailable(f"The image could not be encoded (libmtmd error {failed}).")
        model.input_ids[start : reached.value] = IMAGE_TOKEN
        model.n_tokens = reached.value

    @contextmanager
    def _chunks(self, prompt: ImagePrompt) -> Iterator[Any]:
        if self._context is None:
            raise BackendUnavailable("The projector is not loaded.")
        bitmaps: list[Any] = []
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            for index, image in enumerate(prompt.images):
                bitmaps.append(self._bitmap(image, index))
            text = mtmd.mtmd_input_text()
            encoded = prompt.text.encode("utf-8")
            text.text = encoded
            text.text_len = len(encoded)
            text.add_special = prompt.add_special
            text.parse_special = True
            array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            failed = mtmd.mtmd_tokenize(
                self._context, chunks, ctypes.byref(text), array, len(bitmaps)
            )
            if failed:
                raise InvalidRequest(
                    "The images could not be placed in this model's prompt.",
                    param="messages",
                    code="invalid_image",
                )
            yield chunks
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)

    def _bitmap(self, image: bytes, index: int) -> Any:
        buffer = (ctypes.c_uint8 * len(image)).from_buffer_copy(image)
        bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(self._context, buffer, len(image), False)
        if bitmap is None:
            raise InvalidRequest(
                f"Image {index + 1} could not be decoded by this engine (PNG, JPEG, GIF, BMP).",
                param="messages",
                code="invalid_image",
            )
        return bitmap


def _text_tokens(chunk: Any) -> list[int]:
    size = ctypes.c_size_t()
    pointer = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(size))
    return [int(pointer[i]) for i in range(size.value)]
