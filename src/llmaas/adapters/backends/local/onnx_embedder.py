"""The embedded embedding engine: a sentence-transformers model exported to ONNX, on ONNX Runtime.

Mean pooling over the attention mask and L2 normalisation reproduce what sentence-transformers does for
all-MiniLM-L6-v2, without torch. Batches are padded to their longest member only.

It also reranks, as a bi-encoder: query and documents are embedded separately and scored by cosine
similarity. A cross-encoder (which reads each query-document pair together) ranks better; this is the
fallback that makes ``/v1/rerank`` work on an installation with no rerank engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime
from tokenizers import Tokenizer

from llmaas.adapters.backends.local.weights import Progress, WeightsSource
from llmaas.adapters.backends.local.worker import ModelWorker
from llmaas.adapters.backends.unsupported import NoGeneration
from llmaas.domain.errors import BackendUnavailable, ContextLengthExceeded, InvalidRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.ports.backends import EmbeddingResult, RerankResult


@dataclass(frozen=True, slots=True)
class OnnxEmbedderOptions:
    weights: WeightsSource
    tokenizer: WeightsSource
    cache_dir: Path
    max_input_tokens: int = 256
    threads: int = 2
    batch_size: int = 32


class OnnxEmbedderBackend(NoGeneration):
    def __init__(self, name: str, options: OnnxEmbedderOptions) -> None:
        self._name = name
        self._options = options
        self._worker = ModelWorker(name)
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._input_names: set[str] = set()

    @property
    def name(self) -> str:
        return self._name

    def prepare(self, progress: Progress | None = None) -> Path:
        self._options.tokenizer.resolve(self._options.cache_dir)
        return self._options.weights.resolve(self._options.cache_dir, progress)

    async def start(self) -> None:
        model_path = self.prepare()
        tokenizer_path = self._options.tokenizer.resolve(self._options.cache_dir)
        settings = onnxruntime.SessionOptions()
        settings.intra_op_num_threads = self._options.threads
        settings.inter_op_num_threads = 1
        session: onnxruntime.InferenceSession = await self._worker.run(
            lambda: onnxruntime.InferenceSession(
                str(model_path), settings, providers=["CPUExecutionProvider"]
            )
        )
        self._input_names = {i.name for i in session.get_inputs()}
        self._session = session
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.no_truncation()
        tokenizer.enable_padding()
        self._tokenizer = tokenizer

    async def close(self) -> None:
        self._session = None
        self._worker.shutdown()

    async def is_healthy(self) -> bool:
        return self._session is not None

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        session, tokenizer = self._ready()
        inputs = request.inputs()
        return await self._worker.run(lambda: self._embed(session, tokenizer, inputs))

    def _embed(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        inputs: list[str | list[int]],
    ) -> EmbeddingResult:
        encodings = [self._encode(tokenizer, item, index) for index, item in enumerate(inputs)]
        vectors: list[list[float]] = self._vectors(session, encodings).tolist()
        return EmbeddingResult(vectors=vectors, prompt_tokens=sum(len(ids) for ids in encodings))

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> RerankResult:
        session, tokenizer = self._ready()
        return await self._worker.run(lambda: self._rerank(session, tokenizer, query, documents))

    def _rerank(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        query: str,
        documents: list[str],
    ) -> RerankResult:
        """Long texts are truncated, not refused: a reranked passage is judged by its opening, as
        sentence-transformers does past the model's maximum sequence length."""
        limit = self._options.max_input_tokens
        encodings = [_truncated(tokenizer.encode(text).ids, limit) for text in [query, *documents]]
        vectors = self._vectors(session, encodings)
        # Unit vectors: the dot product is the cosine, mapped from [-1, 1] onto Cohere's [0, 1].
        cosines = vectors[1:] @ vectors[0]
        scores: list[float] = np.clip((cosines + 1.0) / 2.0, 0.0, 1.0).tolist()
        return RerankResult(scores=scores, prompt_tokens=sum(len(ids) for ids in encodings))

    def _vectors(
        self, session: onnxruntime.InferenceSession, encodings: list[list[int]]
    ) -> npt.NDArray[np.float32]:
        size = self._options.batch_size
        batches = [
            self._run_batch(session, encodings[start : start + size])
            for start in range(0, len(encodings), size)
        ]
        return np.concatenate(batches)

    def _encode(self, tokenizer: Tokenizer, item: str | list[int], index: int) -> list[int]:
        if isinstance(item, str):
            ids = list(tokenizer.encode(item).ids)
        else:
            vocabulary = tokenizer.get_vocab_size()
            if any(t < 0 or t >= vocabulary for t in item):
                raise InvalidRequest(
                    f"Token ids must be between 0 and {vocabulary - 1}.", param=f"input[{index}]"
                )
            ids = item
        if len(ids) > self._options.max_input_tokens:
            raise ContextLengthExceeded(
                f"This model's maximum input length is {self._options.max_input_tokens} tokens; "
                f"input {index} has {len(ids)} tokens.",
                param="input",
            )
        return ids

    def _run_batch(
        self, session: onnxruntime.InferenceSession, batch: list[list[int]]
    ) -> npt.NDArray[np.float32]:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = session.run(None, feeds)[0]
        return _mean_pool_normalise(hidden, mask)

    def _ready(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        if self._session is None or self._tokenizer is None:
            raise BackendUnavailable(f"The deployment '{self._name}' is not loaded.")
        return self._session, self._tokenizer


def _truncated(ids: list[int], limit: int) -> list[int]:
    """The first ``limit`` tokens, keeping the closing special token the model was trained with."""
    if len(ids) <= limit:
        return list(ids)
    return [*ids[: limit - 1], ids[-1]]


def _mean_pool_normalise(
    hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    result: npt.NDArray[np.float32] = (pooled / norms).astype(np.float32)
    return result
