"""``OpenAICompatibleBackend.rerank`` against a fake engine speaking vLLM's and TEI's rerank shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from llmaas.adapters.backends.openai_compatible import OpenAICompatibleBackend, RemoteOptions
from llmaas.adapters.backends.registry import EngineContext, EngineNotAvailable, default_registry
from llmaas.adapters.backends.remote_rerank import RerankApi, estimated_tokens
from llmaas.domain.errors import BackendUnavailable, UpstreamFailed
from llmaas.domain.models import DeploymentSpec
from llmaas.domain.secrets import Secret
from llmaas.ports.backends import Reranker
from tests.fakes.openai_upstream import FakeUpstream, Scenario, openai_error

QUERY = "capital of france"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "The capital of france is Paris",
    "Bananas are yellow.",
]


@asynccontextmanager
async def started(
    upstream: FakeUpstream, api: RerankApi = RerankApi.COHERE, model: str | None = "bge-reranker"
) -> AsyncIterator[OpenAICompatibleBackend]:
    options = RemoteOptions(
        base_url=upstream.base_url,
        upstream_model=model,
        api_key=Secret("sk-upstream"),
        first_byte_timeout=2.0,
        total_timeout=5.0,
        rerank_api=api,
    )
    backend = OpenAICompatibleBackend("remote-reranker", options)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def test_vllm_scores_come_back_in_document_order_with_the_engine_token_count() -> None:
    async with FakeUpstream(Scenario(prompt_tokens=42)) as upstream, started(upstream) as backend:
        result = await backend.rerank(QUERY, DOCUMENTS, top_n=1)
    assert result.scores == [2 / 3, 1.0, 0.0]  # the engine answered best first
    assert result.prompt_tokens == 42
    sent = upstream.last
    assert sent.path == "/v1/rerank"
    assert sent.headers["Authorization"] == "Bearer sk-upstream"
    # Every document is scored: top_n is applied by the gateway, once the scores are in order.
    assert sent.body == {"model": "bge-reranker", "query": QUERY, "documents": DOCUMENTS}


async def test_without_an_upstream_name_vllm_picks_its_served_model() -> None:
    async with FakeUpstream() as upstream, started(upstream, model=None) as backend:
        await backend.rerank(QUERY, DOCUMENTS, top_n=None)
    assert "model" not in upstream.last.body


async def test_an_engine_that_does_not_count_is_charged_an_estimate() -> None:
    scenario = Scenario(rerank_usage=False)
    async with FakeUpstream(scenario) as upstream, started(upstream) as backend:
        result = await backend.rerank(QUERY, DOCUMENTS, top_n=None)
    assert result.prompt_tokens == estimated_tokens(QUERY, DOCUMENTS) > 0


async def test_tei_is_asked_at_its_root_in_its_own_shape() -> None:
    async with FakeUpstream() as upstream, started(upstream, RerankApi.TEI) as backend:
        result = await backend.rerank(QUERY, DOCUMENTS, top_n=2)
    assert result.scores == [2 / 3, 1.0, 0.0]
    assert result.prompt_tokens == estimated_tokens(QUERY, DOCUMENTS)
    sent = upstream.last
    assert sent.path == "/rerank"
    assert sent.body["texts"] == DOCUMENTS
    assert sent.body["query"] == QUERY
    assert sent.body["truncate"] is True


@pytest.mark.parametrize("api", list(RerankApi))
async def test_an_answer_missing_a_document_is_a_malformed_answer(api: RerankApi) -> None:
    async with FakeUpstream(Scenario(rerank_skip=1)) as upstream, started(upstream, api) as b:
        with pytest.raises(UpstreamFailed):
            await b.rerank(QUERY, DOCUMENTS, top_n=None)


async def test_an_unavailable_engine_is_unavailable_so_the_gateway_fails_over() -> None:
    scenario = Scenario(error=openai_error(503, "loading"))
    async with FakeUpstream(scenario) as upstream, started(upstream) as backend:
        with pytest.raises(BackendUnavailable):
            await backend.rerank(QUERY, DOCUMENTS, top_n=None)


async def test_the_tei_engine_kind_speaks_tei_and_a_bad_rerank_api_is_refused() -> None:
    context = EngineContext(cache_dir=Path("."), threads=1, context_length=512)
    registry = default_registry()
    async with FakeUpstream() as upstream:
        backend = registry.build(
            DeploymentSpec("tei-1", "tei", {"url": upstream.base_url}), context
        )
        assert isinstance(backend, Reranker)
        await backend.start()
        try:
            await backend.rerank(QUERY, DOCUMENTS, top_n=None)
        finally:
            await backend.close()
    assert upstream.last.path == "/rerank"
    bad = DeploymentSpec("vllm-1", "vllm", {"url": "http://x/v1", "rerank_api": "jina"})
    with pytest.raises(EngineNotAvailable, match="rerank_api"):
        registry.build(bad, context)
