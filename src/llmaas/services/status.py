"""What the public may know: per-model availability and probe figures, and the lifecycle feed.

Nothing here names a machine or an internal address; ``/status`` counts deployments and shows the
best recent probe of each model, the lifecycle feed lists deprecations with their dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from llmaas.domain.lifecycle import Phase
from llmaas.domain.models import ServedModel
from llmaas.ports.clock import Clock
from llmaas.services.fleet import Deployment
from llmaas.services.routing import Router


@dataclass(frozen=True, slots=True)
class ModelStatus:
    model: str
    phase: Phase
    state: str
    """``operational`` (every deployment up), ``degraded`` (some), ``down`` (none)."""
    deployments: int
    healthy_deployments: int
    time_to_first_token_ms: float | None
    tokens_per_second: float | None
    latency_ms: float | None
    probed_at: float | None


@dataclass(frozen=True, slots=True)
class LifecycleNotice:
    model: str
    phase: Phase
    released: date | None
    deprecation_notice: date | None
    sunset: date | None
    replacement: str | None
    lts: bool


class StatusService:
    def __init__(self, router: Router, clock: Clock) -> None:
        self._router = router
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()

    def models(self) -> list[ModelStatus]:
        today = self._router.today()
        statuses = []
        for model in self._router.catalog.deployed():
            phase = model.phase_on(today)
            if phase is Phase.RETIRED:
                continue
            group = self._router.group(model.id)
            members = group.members if group is not None else ()
            statuses.append(_status(model, phase, members))
        return statuses

    def lifecycle(self) -> list[LifecycleNotice]:
        """Every model with a deprecation notice (given or scheduled), soonest sunset first."""
        today = self._router.today()
        notices = [
            LifecycleNotice(
                model=m.id,
                phase=m.phase_on(today),
                released=m.lifecycle.released,
                deprecation_notice=m.lifecycle.deprecation_notice,
                sunset=m.lifecycle.sunset,
                replacement=m.lifecycle.replacement,
                lts=m.lifecycle.lts,
            )
            for m in self._router.catalog
            if m.lifecycle.deprecation_notice is not None
            and m.lifecycle.deprecation_notice <= today
        ]
        notices.sort(key=lambda n: (n.sunset or date.max, n.model))
        return notices


def _status(model: ServedModel, phase: Phase, members: tuple[Deployment, ...]) -> ModelStatus:
    up = [d for d in members if d.accepting]
    probes = [d.probe for d in up if d.probe is not None and d.probe.ok]
    ttfts = [p.time_to_first_token_ms for p in probes if p.time_to_first_token_ms is not None]
    rates = [p.tokens_per_second for p in probes if p.tokens_per_second is not None]
    latencies = [p.latency_ms for p in probes if p.latency_ms is not None]
    state = "operational" if len(up) == len(members) else "degraded" if up else "down"
    return ModelStatus(
        model=model.id,
        phase=phase,
        state=state,
        deployments=len(members),
        healthy_deployments=len(up),
        time_to_first_token_ms=min(ttfts) if ttfts else None,
        tokens_per_second=max(rates) if rates else None,
        latency_ms=min(latencies) if latencies else None,
        probed_at=max((p.checked_at for p in probes), default=None),
    )
