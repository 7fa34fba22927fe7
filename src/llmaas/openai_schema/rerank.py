"""``POST /v1/rerank`` and ``POST /v2/rerank``: Cohere's rerank shapes.

OpenAI has no rerank endpoint, and Cohere's is what the ecosystem speaks (its SDKs, LangChain and
LlamaIndex rerankers, vLLM's and Jina's servers), so its two versions are served as they are. The one
request model accepts both: v1 documents may be ``{"text": ...}`` objects, v2 documents are strings,
and fields only Cohere's own models use (``rank_fields``, ``max_chunks_per_doc``,
``max_tokens_per_doc``) are accepted and ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmaas.openai_schema.backend import BackendInfo
from llmaas.openai_schema.base import WireObject, WireRequest, omitted_if_none

MAX_DOCUMENTS = 1000
"""Cohere's own recommended ceiling; it also bounds the work one request can ask of an engine."""

SEARCH_UNIT_DOCUMENTS = 100
"""Cohere counts one search unit per query per started hundred documents."""


class RerankDocument(WireObject):
    text: str


class RerankRequest(WireRequest):
    model: str
    query: Annotated[str, Field(min_length=1)]
    documents: Annotated[list[str | RerankDocument], Field(min_length=1, max_length=MAX_DOCUMENTS)]
    top_n: Annotated[int, Field(ge=1)] | None = None
    """How many results to return, best first; every document by default."""
    return_documents: bool = False

    def texts(self) -> list[str]:
        return [d if isinstance(d, str) else d.text for d in self.documents]


class RerankResponseResult(WireObject):
    index: int
    """The document's position in the request."""
    relevance_score: float
    """Between 0 and 1, higher is more relevant; comparable within one response only."""
    document: RerankDocument | None = omitted_if_none()


class ApiVersion(WireObject):
    version: Literal["1", "2"]


class BilledUnits(WireObject):
    search_units: int
    """Cohere's unit, reported for clients that read it; llmaas bills ``input_tokens``."""
    input_tokens: int


class RerankMeta(WireObject):
    api_version: ApiVersion
    billed_units: BilledUnits


class RerankResponse(WireObject):
    id: str
    results: list[RerankResponseResult]
    """Sorted by ``relevance_score``, highest first."""
    meta: RerankMeta
    model: str
    """The model that served the request (an llmaas extension, as in vLLM's answers)."""
    backend: BackendInfo | None = omitted_if_none()
    """Which engine and machine served it (an llmaas extension)."""
