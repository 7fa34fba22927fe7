"""``POST /v1/embeddings``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmaas.openai_schema.backend import BackendInfo
from llmaas.openai_schema.base import WireObject, WireRequest, as_batch, omitted_if_none
from llmaas.openai_schema.usage import EmbeddingUsage

EmbeddingInput = (
    Annotated[str, Field(min_length=1)]
    | Annotated[list[str], Field(min_length=1, max_length=2048)]
    | Annotated[list[int], Field(min_length=1)]
    | Annotated[list[list[int]], Field(min_length=1, max_length=2048)]
)


class EmbeddingRequest(WireRequest):
    model: str
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None

    def inputs(self) -> list[str | list[int]]:
        return as_batch(self.input)


class Embedding(WireObject):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class CreateEmbeddingResponse(WireObject):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    backend: BackendInfo | None = omitted_if_none()
    """Which engine and machine served it (an llmaas extension)."""
