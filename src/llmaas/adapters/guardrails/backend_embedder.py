"""The detector's synchronous ``Embedder`` on top of an embedding deployment's async ``embed``.

Why: the embedded all-MiniLM-L6-v2 deployment already holds the ONNX session and tokenizer the
detector needs, so the guard reuses it (one model in memory, one worker thread) instead of loading a
second copy. Its ``embed`` is a coroutine bound to the gateway's event loop, while scoring is plain
blocking numpy work; this adapter hands each batch to that loop and waits, so it is called from a worker
thread (never from the loop's own thread, which would wait on itself).

Scripts and the benchmark have no loop of their own: ``running_embedder`` starts the deployment on a
private loop in a background thread and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from llmaas.adapters.backends.registry import EngineContext, default_registry
from llmaas.adapters.model_config import load_models
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.ports.backends import EmbeddingResult, InferenceBackend

T = TypeVar("T")

MINILM_MODEL = "all-minilm:22m"
MINILM_DEPLOYMENT = "embedded-all-minilm-l6-v2"
"""The default config's embedded MiniLM, the embedding the packaged weights were trained on."""

_MAX_BATCH = 256
"""Inputs per ``embed`` call: the wire model accepts 2048, smaller keeps each wait short."""


class EmbeddingDeployment(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult: ...


class BackendEmbedder:
    """Embeds through ``backend`` on ``loop``: unit vectors, float32, one row per text."""

    def __init__(
        self, backend: EmbeddingDeployment, model: str, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._backend = backend
        self._model = model
        self._loop = loop

    def __call__(self, texts: Sequence[str], /) -> npt.NDArray[np.float32]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _MAX_BATCH):
            batch = list(texts[start : start + _MAX_BATCH])
            request = EmbeddingRequest(model=self._model, input=batch)
            vectors.extend(self._wait(self._backend.embed(request)).vectors)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if _running_loop() is self._loop:
            coroutine.close()
            raise RuntimeError("BackendEmbedder must be called off its event loop's thread")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


@contextmanager
def running_embedder(backend: EmbeddingDeployment, model: str) -> Iterator[BackendEmbedder]:
    """``backend`` started on a private event loop thread, as a ``BackendEmbedder``; closed after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="embedder-loop", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(backend.start(), loop).result()
        try:
            yield BackendEmbedder(backend, model, loop)
        finally:
            asyncio.run_coroutine_threadsafe(backend.close(), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def embedded_minilm(cache_dir: Path, threads: int) -> InferenceBackend:
    """The default config's embedded all-MiniLM-L6-v2 deployment, built by the engine registry
    exactly as the gateway builds it (same weights, tokenizer and input limit), not yet started.

    For the training script, the benchmark and tests, which run without a gateway."""
    model = next(m for m in load_models(None) if m.id == MINILM_MODEL)
    spec = next(d for d in model.deployments if d.name == MINILM_DEPLOYMENT)
    context = EngineContext(
        cache_dir=cache_dir, threads=threads, context_length=model.context_length
    )
    return default_registry().build(spec, context)
