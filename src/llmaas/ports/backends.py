"""The port every inference engine is reached through, embedded or remote.

One small interface (in the spirit of httpx's transports): the services never know whether a model runs
in this process on llama.cpp or on a vLLM fleet behind HTTP. Requests and responses are the OpenAI wire
models, because that is the lingua franca of every engine we front; adapters translate where needed.
An adapter raises :class:`OperationNotSupported` for an operation its engine cannot do, but routing only
sends a model the operations its capabilities declare.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from llmaas.domain.errors import InvalidRequest
from llmaas.openai_schema.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llmaas.openai_schema.completions import Completion, CompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest


class OperationNotSupported(InvalidRequest):
    default_code = "operation_not_supported"


class EmbeddingResult:
    """Vectors in input order and the number of tokens they cost."""

    __slots__ = ("prompt_tokens", "vectors")

    def __init__(self, vectors: list[list[float]], prompt_tokens: int) -> None:
        self.vectors = vectors
        self.prompt_tokens = prompt_tokens


class RerankResult:
    """One relevance score per document, in document order, and the tokens the scoring cost."""

    __slots__ = ("prompt_tokens", "scores")

    def __init__(self, scores: list[float], prompt_tokens: int) -> None:
        self.scores = scores
        self.prompt_tokens = prompt_tokens


@runtime_checkable
class Reranker(Protocol):
    """A backend that scores documents against a query (a cross-encoder, or an approximation).

    Only some engines can, so it is a capability of its own rather than part of
    ``InferenceBackend``: the rerank service checks for it before sending a deployment a request.
    """

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> RerankResult:
        """Scores for every document (``top_n`` is a hint: the gateway sorts and cuts)."""
        ...


class InferenceBackend(Protocol):
    """One deployment of one model."""

    @property
    def name(self) -> str: ...

    async def start(self) -> None:
        """Load weights or open connection pools; called once before the first request."""

    async def close(self) -> None:
        """Release everything ``start`` acquired."""

    async def is_healthy(self) -> bool: ...

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion: ...

    def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        """Chunks as the engine produces them; the last one carries ``usage``."""
        ...

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[Completion]: ...

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult: ...


@runtime_checkable
class PromptTokenizer(Protocol):
    """A backend that can count a prompt's tokens exactly as its engine will see them.

    Engines with a tokenizer in this process (the embedded ones) implement it, so the gateway can
    refuse a prompt that does not fit the model's context before reserving anything or queueing
    behind generation; for the others it falls back to a conservative estimate.
    """

    async def count_chat_prompt(self, request: ChatCompletionRequest) -> int:
        """Tokens of the rendered conversation, chat template and tool definitions included."""
        ...

    async def count_completion_prompts(self, request: CompletionRequest) -> list[int]:
        """Tokens of each prompt of the batch, in order."""
        ...
