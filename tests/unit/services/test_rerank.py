"""The rerank pipeline: ordering, ``top_n``, ``return_documents``, routing and billing."""

from __future__ import annotations

from typing import Any

import pytest

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.adapters.model_config import ConfigError
from llmaas.app import refuse_incapable_engines
from llmaas.domain.errors import InvalidRequest
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.domain.usage import Outcome, TokenUsage
from llmaas.openai_schema.rerank import RerankRequest
from llmaas.ports.backends import InferenceBackend, OperationNotSupported, RerankResult
from llmaas.services.admission import Admission
from llmaas.services.completions import RequestContext
from llmaas.services.demand import rerank_demand
from llmaas.services.failover import Attempts
from llmaas.services.metering import Metering
from llmaas.services.rerank import RerankService
from llmaas.services.routing import Router
from tests.unit.services.fakes import FakeClock, ListRecorder, ScriptedBackend
from tests.unit.services.test_completions import catalog_of

PRINCIPAL = Principal(key_id="k1", key_name="test", organization_id="acme")
RERANKER = ServedModel(
    id="reranker",
    owned_by="t",
    created=0,
    context_length=512,
    capabilities=frozenset({Capability.RERANK}),
    deployments=(DeploymentSpec("r", "fake"),),
)
CHAT = ServedModel(
    id="chat",
    owned_by="t",
    created=0,
    context_length=512,
    capabilities=frozenset({Capability.CHAT}),
    deployments=(DeploymentSpec("c", "fake"),),
)
DOCUMENTS = ["zero", "one", "two", "three"]
SCORES = [0.1, 0.9, 0.5, 0.9]
TOKENS = 1234


class ScriptedReranker(ScriptedBackend):
    def __init__(self, name: str) -> None:
        super().__init__(name, [])
        self.asked: list[tuple[str, list[str], int | None]] = []

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> RerankResult:
        self.asked.append((query, documents, top_n))
        return RerankResult(SCORES[: len(documents)], TOKENS)


class World:
    def __init__(self, backends: dict[str, InferenceBackend] | None = None) -> None:
        clock = FakeClock()
        self.reranker = ScriptedReranker("r")
        backends = backends or {"r": self.reranker, "c": ScriptedBackend("c", ["x"])}
        self.recorder = ListRecorder()
        self.admission = Admission(MemoryCounters(), clock)
        metering = Metering(self.admission, self.recorder, clock)
        router = Router(catalog_of(RERANKER, CHAT), backends, clock)
        self.service = RerankService(router, metering, Attempts(clock))

    async def rerank(self, version: str = "1", **fields: Any) -> Any:
        request = RerankRequest.model_validate(
            {"model": "reranker", "query": "q", "documents": DOCUMENTS} | fields
        )
        ctx = RequestContext(PRINCIPAL, request_id="req-1", body_bytes=80)
        return await self.service.rerank(ctx, request, "2" if version == "2" else "1")


async def test_results_are_sorted_by_relevance_and_ties_keep_document_order() -> None:
    response = await World().rerank()
    assert [r.index for r in response.results] == [1, 3, 2, 0]
    assert [r.relevance_score for r in response.results] == [0.9, 0.9, 0.5, 0.1]
    assert all(r.document is None for r in response.results)
    assert response.id == "req-1"
    assert response.model == "reranker"
    assert response.meta.api_version.version == "1"


async def test_top_n_cuts_after_sorting_and_return_documents_echoes_the_texts() -> None:
    world = World()
    response = await world.rerank("2", top_n=2, return_documents=True, documents=DOCUMENTS)
    assert [(r.index, r.document.text if r.document else None) for r in response.results] == [
        (1, "one"),
        (3, "three"),
    ]
    assert response.meta.api_version.version == "2"
    assert world.reranker.asked == [("q", DOCUMENTS, 2)]


async def test_text_objects_are_reranked_like_strings() -> None:
    world = World()
    await world.rerank(documents=[{"text": d} for d in DOCUMENTS])
    assert world.reranker.asked[0][1] == DOCUMENTS


async def test_a_rerank_is_billed_at_the_rerank_rate_per_token() -> None:
    world = World()
    response = await world.rerank()
    event = world.recorder.events[0]
    assert event.endpoint == "rerank"
    assert event.outcome is Outcome.OK
    assert event.usage == TokenUsage(prompt_tokens=TOKENS)
    assert event.cost_micros == RERANKER.prices.rerank_cost(TOKENS)
    assert event.cost_micros != RERANKER.prices.tokens_cost(event.usage)
    assert response.meta.billed_units.input_tokens == TOKENS
    assert response.meta.billed_units.search_units == 1
    await world.admission.drain()
    spent = (await world.admission.consumption(PRINCIPAL))["key.monthly_budget_micros"]
    assert spent == event.cost_micros


def test_the_reservation_covers_a_cross_encoder_reading_the_query_per_document() -> None:
    request = RerankRequest.model_validate(
        {"model": "reranker", "query": "what is x", "documents": DOCUMENTS}
    )
    demand = rerank_demand(RERANKER, request, body_bytes=100)
    assert demand.prompt_tokens >= 100 + len(DOCUMENTS) * len("what is x")
    assert demand.output_tokens == 0
    assert demand.cost_micros == RERANKER.prices.rerank_cost(demand.prompt_tokens)


async def test_a_model_without_rerank_is_an_unsupported_capability() -> None:
    world = World()
    with pytest.raises(InvalidRequest) as raised:
        await world.rerank(model="chat")
    assert raised.value.code == "unsupported_capability"
    assert raised.value.param == "model"
    assert world.recorder.events == []


async def test_a_deployment_whose_engine_cannot_rerank_is_refused_and_not_charged() -> None:
    world = World({"r": ScriptedBackend("r", []), "c": ScriptedBackend("c", [])})
    with pytest.raises(OperationNotSupported):
        await world.rerank()
    assert [e.cost_micros for e in world.recorder.events] == [0]


def test_a_rerank_model_on_an_engine_that_cannot_rerank_is_refused_at_start() -> None:
    catalog = catalog_of(RERANKER, CHAT)
    chat_engine = ScriptedBackend("c", ["x"])
    refuse_incapable_engines(catalog, {"r": ScriptedReranker("r"), "c": chat_engine})
    with pytest.raises(ConfigError, match="deployment 'r' runs on the engine 'fake'"):
        refuse_incapable_engines(catalog, {"r": ScriptedBackend("r", []), "c": chat_engine})
