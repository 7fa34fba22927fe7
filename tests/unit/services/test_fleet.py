"""Weighted least-outstanding selection among a model's deployments."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.models import DeploymentSpec
from llmaas.services.circuit_breaker import CircuitBreaker
from llmaas.services.fleet import Deployment, DeploymentGroup
from tests.unit.services.fakes import ScriptedBackend


def deployment(name: str, weight: int = 1, **fields: object) -> Deployment:
    spec = DeploymentSpec(name, "fake", weight=weight, **fields)  # type: ignore[arg-type]
    return Deployment("m", spec, ScriptedBackend(name, []), CircuitBreaker(3, 30))


def picks(group: DeploymentGroup, count: int) -> Counter[str]:
    picked = [group.pick(0.0) for _ in range(count)]
    return Counter(d.name for d in picked if d is not None)


@given(st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=10))
def test_idle_deployments_share_traffic_exactly_by_weight(weights: list[int]) -> None:
    group = DeploymentGroup([deployment(f"d{i}", w) for i, w in enumerate(weights)])
    rounds = 3
    counts = picks(group, rounds * sum(weights))
    assert counts == Counter({f"d{i}": rounds * w for i, w in enumerate(weights)})


def test_outstanding_requests_lower_a_deployments_share() -> None:
    busy, idle = deployment("busy"), deployment("idle")
    busy.outstanding = 3
    counts = picks(DeploymentGroup([busy, idle]), 50)
    assert counts["busy"] < counts["idle"] / 3  # effective weights 1/4 against 1


def test_the_rest_of_the_order_is_for_failover_least_loaded_first() -> None:
    a, b, c = deployment("a", 1), deployment("b", 1), deployment("c", 2)
    b.outstanding, c.outstanding = 5, 1
    group = DeploymentGroup([a, b, c])
    first = group.pick(0.0)
    assert first is not None
    others = group.others(first, 0.0, None, limit=5)
    assert sorted(d.name for d in [first, *others]) == ["a", "b", "c"]
    assert len(group.others(first, 0.0, None, limit=1)) == 1
    rest = [d.name for d in others]
    assert rest == sorted(rest, key=lambda n: {"a": 1, "b": 6, "c": 1}[n])


def test_ineligible_deployments_are_never_picked() -> None:
    a, b = deployment("a", 10), deployment("b", 1)
    group = DeploymentGroup([a, b])
    assert {group.pick(0.0, lambda d: d is not a) for _ in range(20)} == {b}
    assert group.pick(0.0, lambda d: False) is None
    a.mark_down()
    assert group.others(b, 0.0, None, limit=5) == []


def test_routable_means_healthy_closed_not_draining_and_under_its_cap() -> None:
    capped = deployment("capped", max_concurrency=2)
    assert capped.routable(0)
    capped.outstanding = 2
    assert not capped.routable(0)
    capped.outstanding = 0
    capped.draining_flag = True
    assert not capped.routable(0)
    capped.draining_flag = False
    capped.mark_down()
    assert not capped.routable(0)
    capped.mark_checked(True, 1)
    assert capped.routable(1)
    assert not deployment("drained", draining=True).routable(0)


def test_coming_back_up_resets_the_breaker() -> None:
    broken = deployment("x")
    for second in range(3):
        broken.breaker.on_failure(second)
    assert not broken.routable(5)
    broken.mark_down()
    broken.mark_checked(True, 6)
    assert broken.routable(6)
