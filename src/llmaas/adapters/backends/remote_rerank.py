"""The two rerank protocols remote engines speak, as request bodies and parsed answers.

vLLM (and Infinity, Jina-compatible servers) answer Cohere's shape on ``/rerank`` next to their OpenAI
routes: ``{"model", "query", "documents"}`` -> ``{"results": [{"index", "relevance_score"}],
"usage": {"total_tokens"}}``. Hugging Face's Text Embeddings Inference serves ``/rerank`` at its root:
``{"query", "texts"}`` -> ``[{"index", "score"}]``, without a token count. Both give one score per
document, not necessarily in document order; these functions put them back in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, RootModel

from llmaas.domain.errors import UpstreamFailed
from llmaas.ports.backends import RerankResult


class RerankApi(StrEnum):
    COHERE = "cohere"
    """vLLM's ``/rerank`` (Cohere's shape), relative to the deployment's OpenAI base URL."""
    TEI = "tei"
    """Text Embeddings Inference's ``/rerank``, at the server's root."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CohereScore(_Lenient):
    index: int
    relevance_score: float


class CohereUsage(_Lenient):
    total_tokens: int | None = None
    prompt_tokens: int | None = None


class CohereRerankAnswer(_Lenient):
    results: list[CohereScore]
    usage: CohereUsage | None = None


class TeiScore(_Lenient):
    index: int
    score: float


class TeiRerankAnswer(RootModel[list[TeiScore]]):
    pass


def rerank_path(api: RerankApi, base_url: str) -> str:
    """TEI's OpenAI-compatible routes live under ``/v1`` but its rerank route does not."""
    if api is RerankApi.TEI:
        return base_url.removesuffix("/v1") + "/rerank"
    return base_url + "/rerank"


def rerank_body(api: RerankApi, model: str | None, query: str, documents: list[str]) -> bytes:
    """Every document is asked for (no ``top_n``): the engine scores them all anyway, and the port
    promises one score per document. Without a configured upstream name the model is left out, and
    vLLM uses the one it serves. TEI is asked to truncate long pairs, as Cohere and the embedded
    reranker do, instead of refusing them."""
    payload: dict[str, Any]
    if api is RerankApi.TEI:
        payload = {
            "query": query,
            "texts": documents,
            "raw_scores": False,
            "return_text": False,
            "truncate": True,
        }
    else:
        payload = {"query": query, "documents": documents}
        if model:
            payload["model"] = model
    return orjson.dumps(payload)


def cohere_result(answer: CohereRerankAnswer, query: str, documents: list[str]) -> RerankResult:
    scores = _in_order([(r.index, r.relevance_score) for r in answer.results], len(documents))
    usage = answer.usage
    tokens = (usage.total_tokens or usage.prompt_tokens) if usage is not None else None
    return RerankResult(scores, tokens if tokens else estimated_tokens(query, documents))


def tei_result(answer: TeiRerankAnswer, query: str, documents: list[str]) -> RerankResult:
    scores = _in_order([(r.index, r.score) for r in answer.root], len(documents))
    return RerankResult(scores, estimated_tokens(query, documents))


def estimated_tokens(query: str, documents: list[str]) -> int:
    """An engine that does not count: a cross-encoder reads the query with every document, at
    about four characters a token (the estimate used for streams without usage)."""
    characters = len(query) * len(documents) + sum(len(d) for d in documents)
    return max(1, characters // 4)


def _in_order(pairs: Sequence[tuple[int, float]], count: int) -> list[float]:
    scores: list[float | None] = [None] * count
    for index, score in pairs:
        if not 0 <= index < count:
            raise UpstreamFailed("The inference engine returned a malformed rerank result.")
        scores[index] = score
    if any(score is None for score in scores):
        raise UpstreamFailed("The inference engine did not score every document.")
    return [score for score in scores if score is not None]
