"""The operator's view of the deployments: their live state, and draining them for maintenance.

A drain is a flag in the shared counters, so it reaches every gateway instance within one health
interval (and this one at once); a deployment set ``draining: true`` in the models file stays
drained whatever the flag says.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmaas.domain.errors import NotFound, echoed_id
from llmaas.domain.locations import Location
from llmaas.ports.clock import Clock
from llmaas.ports.counters import Counters
from llmaas.services.fleet import Deployment, ProbeFigures
from llmaas.services.health_checks import DRAIN_FLAG_TTL_SECONDS, drain_flag
from llmaas.services.routing import Router


@dataclass(frozen=True, slots=True)
class DeploymentView:
    name: str
    model: str
    engine: str
    machine: str
    weight: int
    max_concurrency: int | None
    location: Location
    healthy: bool
    draining: bool
    breaker: str
    outstanding: int
    served: int
    probe: ProbeFigures | None


class FleetAdmin:
    def __init__(self, router: Router, counters: Counters, clock: Clock) -> None:
        self._router = router
        self._counters = counters
        self._clock = clock

    def list(self) -> list[DeploymentView]:
        now = self._clock.monotonic()
        return [_view(d, now) for d in self._router.deployments()]

    async def set_draining(self, name: str, draining: bool) -> DeploymentView:
        deployment = self._router.deployment(name)
        if deployment is None:
            raise NotFound(f"No deployment is named '{echoed_id(name)}'.", param="name")
        if draining:
            await self._counters.set_flag(drain_flag(name), DRAIN_FLAG_TTL_SECONDS)
        else:
            await self._counters.clear_flag(drain_flag(name))
        deployment.draining_flag = draining
        return _view(deployment, self._clock.monotonic())


def _view(deployment: Deployment, now: float) -> DeploymentView:
    spec = deployment.spec
    return DeploymentView(
        name=spec.name,
        model=deployment.model_id,
        engine=spec.engine,
        machine=spec.machine_name,
        weight=spec.weight,
        max_concurrency=spec.max_concurrency,
        location=spec.location,
        healthy=deployment.healthy,
        draining=deployment.draining,
        breaker=str(deployment.breaker_state(now)),
        outstanding=deployment.outstanding,
        served=deployment.served,
        probe=deployment.probe,
    )
