"""The deployments behind the catalog, as the router sees them at this instant.

Each ``Deployment`` carries its live state: requests outstanding on this instance, health as the
checker last saw it, a circuit breaker, draining, and the latest probe figures. ``DeploymentGroup``
picks among a model's deployments by *weighted least outstanding requests*: smooth weighted
round-robin (nginx's) over effective weights ``weight / (1 + outstanding)``. Idle deployments share
traffic exactly in proportion to their weights; a busy or slow one (more requests outstanding) gets
proportionally less. It is deterministic and O(deployments), so ten deployments cost what one does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llmaas.domain.models import DeploymentSpec
from llmaas.ports.backends import InferenceBackend
from llmaas.services.circuit_breaker import BreakerState, CircuitBreaker


@dataclass(frozen=True, slots=True)
class ProbeFigures:
    """A short generation measured by the health checker."""

    checked_at: float
    """Wall-clock seconds since the epoch."""
    ok: bool
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    tokens_per_second: float | None = None


class Deployment:
    """One deployment and its live state on this instance."""

    __slots__ = (
        "backend",
        "breaker",
        "draining_flag",
        "healthy",
        "last_check",
        "model_id",
        "outstanding",
        "probe",
        "served",
        "spec",
    )

    def __init__(
        self,
        model_id: str,
        spec: DeploymentSpec,
        backend: InferenceBackend,
        breaker: CircuitBreaker,
    ) -> None:
        self.model_id = model_id
        self.spec = spec
        self.backend = backend
        self.breaker = breaker
        self.outstanding = 0
        self.served = 0
        self.healthy = True
        """Optimistic until the first check: the server must answer before its first round ends."""
        self.draining_flag = False
        """Set through the admin API (shared between instances through the counters)."""
        self.last_check: float | None = None
        self.probe: ProbeFigures | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def draining(self) -> bool:
        return self.spec.draining or self.draining_flag

    @property
    def saturated(self) -> bool:
        cap = self.spec.max_concurrency
        return cap is not None and self.outstanding >= cap

    def routable(self, now: float) -> bool:
        """Healthy, closed circuit (or its trial is free), not draining, not at its cap."""
        return (
            self.healthy and not self.draining and not self.saturated and self.breaker.allows(now)
        )

    def breaker_state(self, now: float) -> BreakerState:
        return self.breaker.state(now)

    def mark_down(self) -> None:
        """Seen unreachable by a request: out of rotation until a health check passes."""
        self.healthy = False

    def mark_checked(self, healthy: bool, now: float) -> None:
        if healthy and not self.healthy:
            self.breaker.reset()  # back from the dead: a fresh start, not a half-open trial
        self.healthy = healthy
        self.last_check = now


class DeploymentGroup:
    """A model's deployments and the smooth weighted round-robin state that orders them."""

    __slots__ = ("_current", "members")

    def __init__(self, members: Sequence[Deployment]) -> None:
        self.members = tuple(members)
        self._current = [0.0] * len(self.members)

    def order(self, eligible: Callable[[Deployment], bool]) -> list[Deployment]:
        """The deployment to try first, then the other eligible ones (fewest outstanding per unit
        of weight first) for failover."""
        if len(self.members) == 1:
            only = self.members[0]
            return [only] if eligible(only) else []
        chosen = -1
        total = 0.0
        current = self._current
        for index, member in enumerate(self.members):
            if not eligible(member):
                continue
            weight = member.spec.weight / (1 + member.outstanding)
            current[index] += weight
            total += weight
            if chosen < 0 or current[index] > current[chosen]:
                chosen = index
        if chosen < 0:
            return []
        current[chosen] -= total
        first = self.members[chosen]
        rest = [m for m in self.members if m is not first and eligible(m)]
        rest.sort(key=lambda m: (1 + m.outstanding) / m.spec.weight)
        return [first, *rest]
