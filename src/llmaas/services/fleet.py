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
from llmaas.ports.backends import InferenceBackend, PromptTokenizer
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
        "_draining_flag",
        "_healthy",
        "accepting",
        "backend",
        "breaker",
        "last_check",
        "location",
        "max_concurrency",
        "model_id",
        "outstanding",
        "probe",
        "served",
        "spec",
        "tokenizer",
        "weight",
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
        self.weight = spec.weight
        self.max_concurrency = spec.max_concurrency
        self.location = spec.location
        self.tokenizer = backend if isinstance(backend, PromptTokenizer) else None
        """Set when the engine can count prompt tokens exactly (checked once, not per request)."""
        self.outstanding = 0
        self.served = 0
        self._healthy = True
        """Optimistic until the first check: the server must answer before its first round ends."""
        self._draining_flag = False
        self.accepting = not spec.draining
        """``healthy and not draining``, kept up to date here: the router reads it per request."""
        self.last_check: float | None = None
        self.probe: ProbeFigures | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def healthy(self) -> bool:
        return self._healthy

    @healthy.setter
    def healthy(self, value: bool) -> None:
        self._healthy = value
        self.accepting = value and not self.draining

    @property
    def draining_flag(self) -> bool:
        """Set through the admin API (shared between instances through the counters)."""
        return self._draining_flag

    @draining_flag.setter
    def draining_flag(self, value: bool) -> None:
        self._draining_flag = value
        self.accepting = self._healthy and not self.draining

    @property
    def draining(self) -> bool:
        return self.spec.draining or self._draining_flag

    @property
    def saturated(self) -> bool:
        cap = self.max_concurrency
        return cap is not None and self.outstanding >= cap

    @property
    def load(self) -> float:
        """Requests in flight per unit of weight: the failover order, least loaded first."""
        return (1 + self.outstanding) / self.weight

    def routable(self, now: float) -> bool:
        """Healthy, closed circuit (or its trial is free), not draining, not at its cap."""
        cap = self.max_concurrency
        return (
            self.accepting
            and (cap is None or self.outstanding < cap)
            and (not self.breaker.tripped or self.breaker.allows(now))
        )

    def breaker_state(self, now: float) -> BreakerState:
        return self.breaker.state(now)

    def mark_down(self) -> None:
        """Seen unreachable by a request: out of rotation until a health check passes."""
        self.healthy = False

    def mark_checked(self, healthy: bool, now: float) -> None:
        if healthy and not self._healthy:
            self.breaker.reset()  # back from the dead: a fresh start, not a half-open trial
        self.healthy = healthy
        self.last_check = now


Eligibility = Callable[[Deployment], bool]


class DeploymentGroup:
    """A model's deployments and the smooth weighted round-robin state that orders them.

    Picking is the per-request hot path, so the loop reads plain attributes and calls nothing for a
    deployment in the usual state; the failover order is only worked out when it is needed.
    """

    __slots__ = ("_current", "members")

    def __init__(self, members: Sequence[Deployment]) -> None:
        self.members = tuple(members)
        self._current = [0.0] * len(self.members)

    def pick(self, now: float, allowed: Eligibility | None = None) -> Deployment | None:
        """The deployment to try first; ``allowed`` narrows the choice (a data policy)."""
        chosen = -1
        best = 0.0
        total = 0.0
        current = self._current
        for index, member in enumerate(self.members):
            if not member.routable(now) or (allowed is not None and not allowed(member)):
                continue
            weight = member.weight / (1 + member.outstanding)
            value = current[index] + weight
            current[index] = value
            total += weight
            if chosen < 0 or value > best:
                chosen, best = index, value
        if chosen < 0:
            return None
        current[chosen] -= total
        return self.members[chosen]

    def others(
        self, first: Deployment, now: float, allowed: Eligibility | None, limit: int
    ) -> list[Deployment]:
        """Up to ``limit`` other routable deployments, least loaded first, for failover."""
        if limit <= 0:
            return []
        rest = [
            m
            for m in self.members
            if m is not first and m.routable(now) and (allowed is None or allowed(m))
        ]
        rest.sort(key=_load)
        return rest[:limit]


def _load(deployment: Deployment) -> float:
    return deployment.load
