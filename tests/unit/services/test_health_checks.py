"""Health checks: deployments leave and rejoin the rotation, drain flags spread, probes measure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.catalog import Catalog
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.openai_schema.chat import ChatCompletionChunk, ChatCompletionRequest
from llmaas.services.fleet_admin import FleetAdmin
from llmaas.services.health_checks import HealthChecker
from llmaas.services.routing import Router
from tests.unit.services.fakes import FakeClock, ScriptedBackend

CHAT = ServedModel(
    id="chat",
    owned_by="t",
    created=0,
    context_length=100,
    capabilities=frozenset({Capability.CHAT}),
    deployments=(DeploymentSpec("a", "fake"), DeploymentSpec("b", "fake")),
)
EMBED = ServedModel(
    id="embed",
    owned_by="t",
    created=0,
    context_length=100,
    capabilities=frozenset({Capability.EMBEDDINGS}),
    deployments=(DeploymentSpec("e", "fake"),),
)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.counters = MemoryCounters()
        self.backends = {name: ScriptedBackend(name, ["O", "K", "!"]) for name in ("a", "b", "e")}
        catalog = Catalog(models=(CHAT, EMBED), reviewed_on=date(2026, 1, 1))
        self.router = Router(catalog, self.backends, self.clock)
        self.checker = HealthChecker(
            self.router.deployments(),
            self.counters,
            self.clock,
            interval=1,
            probe_interval=60,
            capabilities={"chat": CHAT.capabilities, "embed": EMBED.capabilities},
        )
        self.admin = FleetAdmin(self.router, self.counters, self.clock)

    def healthy(self) -> dict[str, bool]:
        return {d.name: d.healthy for d in self.router.deployments()}


async def test_a_failing_check_takes_a_deployment_out_and_a_passing_one_brings_it_back() -> None:
    world = World()
    world.backends["a"].down = True
    await world.checker.check_once()
    assert world.healthy() == {"a": False, "b": True, "e": True}

    world.backends["a"].down = False
    await world.checker.check_once()
    assert world.healthy() == {"a": True, "b": True, "e": True}


async def test_a_drain_raised_on_any_instance_reaches_this_one_at_the_next_round() -> None:
    world, other_instance = World(), World()
    other_instance.counters = world.counters  # shared counters, as with Redis
    other_instance.admin = FleetAdmin(other_instance.router, world.counters, world.clock)

    view = await other_instance.admin.set_draining("b", True)
    assert view.draining
    await world.checker.check_once()
    assert [d.name for d in world.router.deployments() if d.draining] == ["b"]

    await other_instance.admin.set_draining("b", False)
    await world.checker.check_once()
    assert not any(d.draining for d in world.router.deployments())


async def test_probes_measure_chat_speed_and_embedding_latency() -> None:
    world = World()
    await world.checker.probe_once()
    figures = {d.name: d.probe for d in world.router.deployments()}
    chat = figures["a"]
    assert chat is not None and chat.ok
    assert chat.time_to_first_token_ms is not None
    assert chat.latency_ms is not None
    embed = figures["e"]
    assert embed is not None and embed.ok and embed.latency_ms is not None
    assert embed.time_to_first_token_ms is None


async def test_a_probe_of_a_broken_deployment_is_recorded_as_failed() -> None:
    world = World()
    world.backends["b"].chat_stream = _broken  # type: ignore[method-assign]
    await world.checker.probe_once()
    probe = world.router.deployment("b").probe  # type: ignore[union-attr]
    assert probe is not None and not probe.ok


async def _broken(request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
    raise RuntimeError("engine wedged")
    yield  # an async generator, like a real chat_stream
