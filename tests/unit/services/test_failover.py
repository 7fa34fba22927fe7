"""Failover: which failures move on to the next deployment, and the bookkeeping of each attempt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from llmaas.domain.catalog import Catalog
from llmaas.domain.errors import (
    BackendUnavailable,
    InvalidRequest,
    LlmaasError,
    NoCompliantDeployment,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from llmaas.domain.locations import DataPolicy, Location
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.ports.backends import InferenceBackend
from llmaas.services.failover import Attempts
from llmaas.services.routing import Route, Router, RouterOptions
from tests.unit.services.fakes import FakeClock, ScriptedBackend

MODEL = ServedModel(
    id="m",
    owned_by="t",
    created=0,
    context_length=100,
    capabilities=frozenset({Capability.CHAT}),
    deployments=(DeploymentSpec("a", "fake"), DeploymentSpec("b", "fake", weight=1000)),
)


def route(clock: FakeClock, failures: int = 3) -> tuple[Route, Router]:
    backends = {"a": ScriptedBackend("a", []), "b": ScriptedBackend("b", [])}
    routing = Router(
        Catalog(models=(MODEL,), reviewed_on=date(2026, 1, 1)),
        backends,
        clock,
        RouterOptions(breaker_failures=failures),
    )
    return routing.resolve(Principal(key_id="k", key_name="k"), "m", Capability.CHAT), routing


def failing_first(
    error: LlmaasError,
) -> tuple[list[str], Callable[[InferenceBackend], Awaitable[str]]]:
    tried: list[str] = []

    async def call(backend: InferenceBackend) -> str:
        tried.append(backend.name)
        if len(tried) == 1:
            raise error
        return "ok"

    return tried, call


@pytest.mark.parametrize(
    "error",
    [
        BackendUnavailable("down"),
        UpstreamFailed("500"),
        UpstreamRateLimited("busy", retry_after=1),
    ],
)
async def test_deployment_failures_move_on_to_the_next_candidate(error: LlmaasError) -> None:
    clock = FakeClock()
    first_route, _ = route(clock)
    tried, call = failing_first(error)
    result, deployment = await Attempts(clock).call(first_route, call)
    assert result == "ok"
    assert tried == ["b", "a"]
    assert deployment.name == "a"
    assert all(d.outstanding == 0 for d in first_route.candidates)


@pytest.mark.parametrize("error", [UpstreamTimeout("slow"), InvalidRequest("bad")])
async def test_timeouts_and_bad_requests_are_not_retried(error: LlmaasError) -> None:
    clock = FakeClock()
    first_route, _ = route(clock)
    tried, call = failing_first(error)
    with pytest.raises(type(error)):
        await Attempts(clock).call(first_route, call)
    assert tried == ["b"]
    assert first_route.candidates[0].outstanding == 0


async def test_an_unreachable_deployment_is_marked_down_and_its_breaker_counts() -> None:
    clock = FakeClock()
    first_route, _ = route(clock, failures=1)
    _, call = failing_first(BackendUnavailable("refused"))
    await Attempts(clock).call(first_route, call)
    b = first_route.candidates[0]
    assert not b.healthy
    assert not b.breaker.allows(clock.monotonic())


async def test_a_rejected_request_does_not_count_against_the_deployment() -> None:
    clock = FakeClock()
    first_route, _ = route(clock, failures=1)
    _, call = failing_first(InvalidRequest("bad"))
    with pytest.raises(InvalidRequest):
        await Attempts(clock).call(first_route, call)
    assert first_route.candidates[0].routable(clock.monotonic())


async def test_a_held_attempt_stays_outstanding_until_finished() -> None:
    clock = FakeClock()
    first_route, _ = route(clock)
    attempts = Attempts(clock)

    async def call(backend: InferenceBackend) -> str:
        return backend.name

    _, deployment = await attempts.call(first_route, call, hold=True)
    assert deployment.outstanding == 1
    attempts.finished(deployment)
    assert (deployment.outstanding, deployment.served) == (0, 1)


async def test_when_every_candidate_fails_the_last_error_is_raised() -> None:
    clock = FakeClock()
    first_route, _ = route(clock)

    async def call(backend: InferenceBackend) -> str:
        raise UpstreamFailed(f"{backend.name} broke")

    with pytest.raises(UpstreamFailed, match="a broke"):
        await Attempts(clock).call(first_route, call)


async def test_compliant_deployments_all_down_is_said_as_such() -> None:
    clock = FakeClock()
    spec = DeploymentSpec("fr", "fake", location=Location.of("FR"))
    model = ServedModel(
        id="m",
        owned_by="t",
        created=0,
        context_length=100,
        capabilities=frozenset({Capability.CHAT}),
        deployments=(spec, DeploymentSpec("de", "fake", location=Location.of("DE"))),
    )
    routing = Router(
        Catalog(models=(model,), reviewed_on=date(2026, 1, 1)),
        {"fr": ScriptedBackend("fr", []), "de": ScriptedBackend("de", [])},
        clock,
    )
    french = Principal(key_id="k", key_name="k", data_policy=DataPolicy.of(["FR"]))
    tried: list[str] = []

    async def call(backend: InferenceBackend) -> str:
        tried.append(backend.name)
        raise BackendUnavailable("refused")

    with pytest.raises(NoCompliantDeployment, match="FR"):
        await Attempts(clock).call(routing.resolve(french, "m", Capability.CHAT), call)
    assert tried == ["fr"]  # never the German one
    with pytest.raises(BackendUnavailable) as unrestricted:
        await Attempts(clock).call(
            routing.resolve(Principal(key_id="k", key_name="k"), "m", Capability.CHAT), call
        )
    assert not isinstance(unrestricted.value, NoCompliantDeployment)
