"""Mixins for engines that serve only some operations (an embedder cannot chat, and vice versa)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from llmaas.openai_schema.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llmaas.openai_schema.completions import Completion, CompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.ports.backends import EmbeddingResult, OperationNotSupported


def _refuse(model: str, what: str) -> OperationNotSupported:
    return OperationNotSupported(f"The model '{model}' does not support {what}.", param="model")


class NoGeneration:
    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        raise _refuse(request.model, "chat completions")

    async def chat_stream(
        self, request: ChatCompletionRequest
    ) -> AsyncIterator[ChatCompletionChunk]:
        raise _refuse(request.model, "chat completions")
        yield  # unreachable: makes this an async generator, as the port requires

    async def complete(self, request: CompletionRequest) -> Completion:
        raise _refuse(request.model, "text completions")

    async def complete_stream(self, request: CompletionRequest) -> AsyncIterator[Completion]:
        raise _refuse(request.model, "text completions")
        yield  # unreachable: see chat_stream


class NoEmbeddings:
    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        raise _refuse(request.model, "embeddings")
