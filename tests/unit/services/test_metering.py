"""Metering settles every request exactly once: success, engine failure, and a client gone mid-stream."""

from __future__ import annotations

import pytest

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.errors import BackendUnavailable
from llmaas.domain.principals import Principal
from llmaas.domain.usage import Outcome, TokenUsage
from llmaas.services.admission import Admission
from llmaas.services.completions import CompletionsService, RequestContext
from llmaas.services.failover import Attempts
from llmaas.services.metering import Metering
from llmaas.services.routing import Router
from tests.unit.services.fakes import FakeClock, ListRecorder, ScriptedBackend
from tests.unit.services.test_completions import MODEL, catalog_of, request

PRINCIPAL = Principal(key_id="k1", key_name="test", organization_id="acme")


class World:
    def __init__(self, backend: ScriptedBackend) -> None:
        self.recorder = ListRecorder()
        clock = FakeClock()
        self.admission = Admission(MemoryCounters(), clock)
        router = Router(catalog_of(MODEL), {"a": backend, "b": backend}, clock)
        self.service = CompletionsService(
            router, Metering(self.admission, self.recorder, clock), Attempts(clock)
        )

    def ctx(self) -> RequestContext:
        return RequestContext(PRINCIPAL, request_id="r1", body_bytes=60)

    async def key_spend(self) -> int:
        await self.admission.drain()
        return (await self.admission.consumption(PRINCIPAL))["key.monthly_budget_micros"]


async def test_a_completed_request_is_charged_its_priced_usage() -> None:
    world = World(ScriptedBackend("a", ["a", "b", "c"]))
    await world.service.chat(world.ctx(), request(max_tokens=10))
    event = world.recorder.events[0]
    assert event.usage == TokenUsage(5, 3)
    assert event.cost_micros == MODEL.prices.tokens_cost(TokenUsage(5, 3))
    assert event.organization_id == "acme"
    assert event.occurred_at is not None
    assert await world.key_spend() == event.cost_micros


async def test_a_client_gone_mid_stream_is_charged_what_was_generated() -> None:
    world = World(ScriptedBackend("a", ["w"] * 8))
    stream = await world.service.chat_stream(world.ctx(), request(stream=True, max_tokens=20))
    received = 0
    async for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 3:
            break
    await stream.aclose()
    event = world.recorder.events[0]
    assert event.outcome is Outcome.CLIENT_DISCONNECTED
    assert event.usage.completion_tokens == 3
    assert event.cost_micros == MODEL.prices.tokens_cost(event.usage)
    assert await world.key_spend() == event.cost_micros


async def test_an_engine_failure_releases_the_reservation() -> None:
    world = World(ScriptedBackend("a", ["x"], down=True))
    with pytest.raises(BackendUnavailable):
        await world.service.chat(world.ctx(), request(max_tokens=10))
    with pytest.raises(BackendUnavailable):
        await world.service.chat_stream(world.ctx(), request(stream=True))
    assert [e.cost_micros for e in world.recorder.events] == [0, 0]
    assert await world.key_spend() == 0


async def test_a_stream_without_usage_is_charged_per_streamed_chunk() -> None:
    world = World(ScriptedBackend("a", ["x", "y"], report_usage=False))
    chunks = [c async for c in await world.service.chat_stream(world.ctx(), request(stream=True))]
    assert chunks
    event = world.recorder.events[0]
    assert event.usage.completion_tokens == 2
    assert event.usage.prompt_tokens > 0
    assert await world.key_spend() == event.cost_micros > 0
