"""The embedded bi-encoder rerank: cosine similarity of the model's own embeddings, on [0, 1]."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

from llmaas.adapters.model_config import load_models
from llmaas.app import build_backends
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.ports.backends import InferenceBackend, Reranker
from llmaas.settings import Settings

MODEL = "all-minilm:22m"
QUERY = "How do I bake bread at home?"
DOCUMENTS = [
    "The stock market closed higher on Friday.",
    "Mix flour, water, yeast and salt, let the dough rise, then bake it in a hot oven.",
    "Football is played by two teams of eleven players.",
]


@pytest.fixture(scope="module")
async def embedder() -> AsyncIterator[InferenceBackend]:
    model = next(m for m in load_models(None) if m.id == MODEL)
    backend = build_backends(Settings(engine_threads=2), [model])[model.deployments[0].name]
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def test_scores_are_the_embeddings_cosine_mapped_onto_zero_one(
    embedder: InferenceBackend,
) -> None:
    assert isinstance(embedder, Reranker)
    result = await embedder.rerank(QUERY, DOCUMENTS, top_n=None)
    embedded = await embedder.embed(EmbeddingRequest(model=MODEL, input=[QUERY, *DOCUMENTS]))
    query, *documents = embedded.vectors
    for score, document in zip(result.scores, documents, strict=True):
        cosine = sum(q * d for q, d in zip(query, document, strict=True))
        assert math.isclose(score, (1 + cosine) / 2, abs_tol=1e-5)
        assert 0.0 <= score <= 1.0
    assert max(range(3), key=lambda i: result.scores[i]) == 1
    assert result.prompt_tokens == embedded.prompt_tokens


async def test_a_document_longer_than_the_model_reads_is_truncated_not_refused(
    embedder: InferenceBackend,
) -> None:
    assert isinstance(embedder, Reranker)
    long = "bread " * 2000
    result = await embedder.rerank(QUERY, [long, DOCUMENTS[0]], top_n=None)
    assert len(result.scores) == 2
    assert result.prompt_tokens <= 3 * 512
