"""Routing: the lifecycle on today's date, sovereignty, and why nothing is routable when it is not."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from llmaas.domain.catalog import Catalog
from llmaas.domain.errors import (
    BackendUnavailable,
    DeploymentsSaturated,
    ModelNotDeployed,
    ModelNotFound,
    ModelRetired,
    NoCompliantDeployment,
)
from llmaas.domain.lifecycle import Lifecycle, Phase
from llmaas.domain.locations import DataPolicy, Location
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.services.routing import Router, RouterOptions
from tests.unit.services.fakes import FakeClock, ScriptedBackend

TODAY = date(2026, 11, 26)  # FakeClock's day
ANYONE = Principal(key_id="k", key_name="k")
FRENCH_ONLY = replace(ANYONE, data_policy=DataPolicy.of(["FR"], ["SecNumCloud"]))


def model(model_id: str, *deployments: DeploymentSpec, **lifecycle: object) -> ServedModel:
    return ServedModel(
        id=model_id,
        owned_by="t",
        created=0,
        context_length=100,
        capabilities=frozenset({Capability.CHAT}),
        deployments=deployments,
        lifecycle=Lifecycle(**lifecycle),  # type: ignore[arg-type]
    )


PARIS = Location.of("FR", certifications=["SecNumCloud"])
FRANKFURT = Location.of("DE")
NEW = model("new", DeploymentSpec("new-fr", "fake", location=PARIS))
OLD = model(
    "old",
    DeploymentSpec("old-1", "fake"),
    phase=Phase.DEPRECATED,
    deprecation_notice=date(2026, 10, 1),
    sunset=date(2027, 1, 5),
    replacement="new",
)
GONE = model(
    "gone", deprecation_notice=date(2026, 1, 1), sunset=date(2026, 6, 30), replacement="new"
)
MOVED = replace(GONE, id="moved")
UNDEPLOYED = model("catalog-only")
SPREAD = model(
    "spread",
    DeploymentSpec("de", "fake", location=FRANKFURT),
    DeploymentSpec("fr", "fake", location=PARIS),
    DeploymentSpec("fr-2", "fake", location=PARIS, max_concurrency=1),
)


def router(**options: object) -> Router:
    catalog = Catalog(
        models=(NEW, OLD, GONE, MOVED, UNDEPLOYED, SPREAD),
        reviewed_on=date(2026, 10, 1),
        redirect_retired=frozenset({"moved"}),
    )
    names = [spec.name for m in catalog for spec in m.deployments]
    backends = {name: ScriptedBackend(name, ["hi"]) for name in names}
    return Router(catalog, backends, FakeClock(), RouterOptions(**options))  # type: ignore[arg-type]


def test_a_deprecated_model_is_served_and_flagged() -> None:
    route = router().resolve(ANYONE, "old", Capability.CHAT)
    assert route.model is OLD
    assert route.deprecated is OLD
    assert route.redirected_from is None


def test_a_retired_model_is_refused_with_its_replacement() -> None:
    with pytest.raises(ModelRetired, match="retired on 2026-06-30; use 'new' instead") as caught:
        router().resolve(ANYONE, "gone", Capability.CHAT)
    assert caught.value.replacement == "new"


def test_a_redirected_retired_model_is_served_by_its_replacement() -> None:
    route = router().resolve(ANYONE, "moved", Capability.CHAT)
    assert route.model is NEW
    assert route.redirected_from == "moved"
    assert [d.name for d in route.candidates] == ["new-fr"]


def test_redirection_respects_the_keys_allow_list() -> None:
    narrow = replace(ANYONE, allowed_models=frozenset({"moved"}))
    with pytest.raises(ModelRetired):
        router().resolve(narrow, "moved", Capability.CHAT)


def test_a_catalog_model_without_deployments_is_not_found_here() -> None:
    with pytest.raises(ModelNotDeployed):
        router().resolve(ANYONE, "catalog-only", Capability.CHAT)
    with pytest.raises(ModelNotFound):
        router().resolve(ANYONE, "never-heard-of", Capability.CHAT)


def test_listing_shows_deployed_live_models_only() -> None:
    assert [m.id for m in router().models(ANYONE)] == ["new", "old", "spread"]


def test_a_data_policy_keeps_requests_on_compliant_deployments() -> None:
    routing = router()
    for _ in range(10):
        route = routing.resolve(FRENCH_ONLY, "spread", Capability.CHAT)
        assert {d.name for d in route.candidates} == {"fr", "fr-2"}
    assert "de" in {d.name for d in routing.resolve(ANYONE, "spread", Capability.CHAT).candidates}


def test_no_compliant_healthy_deployment_is_a_clear_refusal() -> None:
    routing = router()
    for name in ("fr", "fr-2"):
        deployment = routing.deployment(name)
        assert deployment is not None
        deployment.mark_down()
    with pytest.raises(NoCompliantDeployment, match="FR"):
        routing.resolve(FRENCH_ONLY, "spread", Capability.CHAT)
    assert [d.name for d in routing.resolve(ANYONE, "spread", Capability.CHAT).candidates] == ["de"]
    with pytest.raises(NoCompliantDeployment):
        routing.resolve(FRENCH_ONLY, "old", Capability.CHAT)  # old-1 has no known location


def test_everything_down_is_still_tried_when_no_policy_restricts() -> None:
    routing = router()
    for deployment in routing.deployments():
        deployment.mark_down()
    route = routing.resolve(ANYONE, "spread", Capability.CHAT)
    assert len(route.candidates) == 3  # a stale verdict costs one refused connection


def test_all_draining_and_all_saturated_are_told_apart() -> None:
    routing = router()
    (only,) = routing.resolve(ANYONE, "new", Capability.CHAT).candidates
    only.outstanding = 1
    only.max_concurrency = 1
    with pytest.raises(DeploymentsSaturated):
        routing.resolve(ANYONE, "new", Capability.CHAT)
    only.draining_flag = True
    with pytest.raises(BackendUnavailable, match="draining"):
        routing.resolve(ANYONE, "new", Capability.CHAT)


def test_candidates_are_capped_at_max_attempts() -> None:
    route = router(max_attempts=2).resolve(ANYONE, "spread", Capability.CHAT)
    assert len(route.candidates) == 2


def test_availability_follows_health_and_draining() -> None:
    routing = router()
    assert routing.available(NEW)
    deployment = routing.deployment("new-fr")
    assert deployment is not None
    deployment.draining_flag = True
    assert not routing.available(NEW)
    assert not routing.available(UNDEPLOYED)
