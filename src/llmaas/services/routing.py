"""Stage 4 of the pipeline: a model name becomes the deployments that may serve the request.

Resolution applies the catalog's lifecycle on today's date (a retired model is refused with its
replacement, or redirected to it when the operator allows; a deprecated one is served with a notice),
checks the capability, then orders the model's deployments: the one the weighted least-outstanding
pick chose first, then the others for failover, restricted to those the organization's data policy
allows. The caller walks the candidates in order, only until the first byte reaches the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from llmaas.domain.catalog import Catalog
from llmaas.domain.errors import (
    BackendUnavailable,
    DeploymentsSaturated,
    InvalidRequest,
    ModelNotDeployed,
    ModelNotFound,
    ModelRetired,
    NoCompliantDeployment,
    echoed_id,
)
from llmaas.domain.lifecycle import Phase
from llmaas.domain.locations import DataPolicy
from llmaas.domain.models import Capability, ServedModel
from llmaas.domain.principals import Principal
from llmaas.ports.backends import InferenceBackend
from llmaas.ports.clock import Clock
from llmaas.services.circuit_breaker import CircuitBreaker
from llmaas.services.fleet import Deployment, DeploymentGroup

_CAPABILITY_WORDS = {
    Capability.CHAT: "chat completions",
    Capability.COMPLETIONS: "text completions",
    Capability.EMBEDDINGS: "embeddings",
    Capability.TOOLS: "tool calling",
    Capability.JSON_OUTPUT: "structured (JSON) output",
    Capability.VISION: "image input",
    Capability.RERANK: "reranking",
}


class Route:
    """Where a request goes: the model that serves it and the deployments to try, in order.

    Only the first deployment is chosen up front; the failover order is worked out if the first one
    fails (from the state at that moment), since most requests never need it.
    """

    __slots__ = (
        "_candidates",
        "_more",
        "deprecated",
        "first",
        "model",
        "policy",
        "redirected_from",
    )

    def __init__(
        self,
        model: ServedModel,
        first: Deployment | None,
        more: Callable[[], Sequence[Deployment]] = tuple,
        *,
        deprecated: ServedModel | None = None,
        redirected_from: str | None = None,
        policy: DataPolicy | None = None,
    ) -> None:
        self.model = model
        """The model that serves the call: the replacement when a retired model was redirected."""
        self.first = first
        self._more = more
        self._candidates: tuple[Deployment, ...] | None = None
        self.deprecated = deprecated
        """Set when the model called is deprecated: the response carries its sunset and successor."""
        self.redirected_from = redirected_from
        self.policy = policy
        """The data policy that narrowed the candidates, if any (for the error when all fail)."""

    @classmethod
    def of(
        cls,
        model: ServedModel,
        candidates: Sequence[Deployment],
        *,
        deprecated: ServedModel | None = None,
        redirected_from: str | None = None,
    ) -> Route:
        first = candidates[0] if candidates else None
        return cls(
            model,
            first,
            lambda: tuple(candidates[1:]),
            deprecated=deprecated,
            redirected_from=redirected_from,
        )

    def __iter__(self) -> Iterator[Deployment]:
        """The attempt order, computed lazily past the first."""
        if self.first is None:
            return
        yield self.first
        yield from self.candidates[1:]

    @property
    def candidates(self) -> tuple[Deployment, ...]:
        if self._candidates is None:
            first = () if self.first is None else (self.first,)
            self._candidates = (*first, *self._more())
        return self._candidates


@dataclass(frozen=True, slots=True)
class RouterOptions:
    breaker_failures: int = 3
    breaker_cooldown_seconds: float = 30.0
    max_attempts: int = 3


class Router:
    def __init__(
        self,
        catalog: Catalog,
        backends: Mapping[str, InferenceBackend],
        clock: Clock,
        options: RouterOptions = RouterOptions(),
    ) -> None:
        self._catalog = catalog
        self._clock = clock
        self._by_name = catalog.by_name()
        self._max_attempts = options.max_attempts
        self._groups: dict[str, DeploymentGroup] = {
            model.id: DeploymentGroup(
                [
                    Deployment(
                        model.id,
                        spec,
                        backends[spec.name],
                        CircuitBreaker(options.breaker_failures, options.breaker_cooldown_seconds),
                    )
                    for spec in model.deployments
                ]
            )
            for model in catalog.deployed()
        }

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def today(self) -> date:
        return self._clock.now().date()

    def models(self, principal: Principal) -> list[ServedModel]:
        """Deployed models the caller may use, retired ones excepted."""
        today = self.today()
        return [
            model
            for model in self._catalog.deployed()
            if principal.may_use(model.id) and model.phase_on(today) is not Phase.RETIRED
        ]

    def model(self, principal: Principal, name: str) -> ServedModel:
        model = self._by_name.get(name)
        if model is None or not principal.may_use(model.id):
            raise ModelNotFound(
                f"The model '{echoed_id(name)}' does not exist or you do not have access to it.",
                param="model",
            )
        return model

    def available(self, model: ServedModel) -> bool:
        """Whether a healthy deployment that takes new requests serves it now."""
        group = self._groups.get(model.id)
        return group is not None and any(d.accepting for d in group.members)

    def resolve(self, principal: Principal, name: str, capability: Capability) -> Route:
        called = self.model(principal, name)
        today = self.today()
        model, redirected_from = self._live(principal, called, today)
        if not model.deployments:
            raise ModelNotDeployed(
                f"The model '{model.id}' is in the catalog but not deployed on this platform.",
                param="model",
            )
        require(model, capability, param="model")
        deprecated = called if called.phase_on(today) is Phase.DEPRECATED else None
        group = self._groups[model.id]
        now = self._clock.monotonic()
        policy = principal.data_policy
        allowed = policy.allows_deployment if policy.restricted else None
        first = group.pick(now, allowed)
        if first is None:
            candidates = self._fallback(model, group, allowed, policy)
            return Route.of(
                model, candidates, deprecated=deprecated, redirected_from=redirected_from
            )
        limit = self._max_attempts - 1
        return Route(
            model,
            first,
            lambda: group.others(first, self._clock.monotonic(), allowed, limit),
            deprecated=deprecated,
            redirected_from=redirected_from,
            policy=policy if allowed is not None else None,
        )

    def deployments(self) -> list[Deployment]:
        return [d for group in self._groups.values() for d in group.members]

    def deployment(self, name: str) -> Deployment | None:
        for deployment in self.deployments():
            if deployment.name == name:
                return deployment
        return None

    def group(self, model_id: str) -> DeploymentGroup | None:
        return self._groups.get(model_id)

    def _live(
        self, principal: Principal, model: ServedModel, today: date
    ) -> tuple[ServedModel, str | None]:
        """The model itself, or its successor when it is retired and the operator redirects it."""
        if model.phase_on(today) is not Phase.RETIRED:
            return model, None
        successor = self._catalog.successor(model, today)
        redirect = model.id in self._catalog.redirect_retired
        if redirect and successor is not None and principal.may_use(successor.id):
            return successor, model.id
        raise self.retirement(model, today)

    def retirement(self, model: ServedModel, today: date) -> ModelRetired:
        """The refusal of a retired model, naming the live model to use instead (if any)."""
        successor = self._catalog.successor(model, today)
        sunset = model.lifecycle.sunset
        when = f" on {sunset.isoformat()}" if sunset else ""
        advice = f"; use '{successor.id}' instead" if successor else ""
        return ModelRetired(
            f"The model '{model.id}' was retired{when}{advice}.",
            replacement=successor.id if successor else None,
        )

    def _fallback(
        self,
        model: ServedModel,
        group: DeploymentGroup,
        compliant: Callable[[Deployment], bool] | None,
        policy: DataPolicy,
    ) -> tuple[Deployment, ...]:
        """Nothing is routable: say why, or (no sovereignty constraint) try those that were marked
        down anyway, since a health verdict can be stale and a refused connection costs little."""
        allowed = [d for d in group.members if compliant is None or compliant(d)]
        if not allowed:
            raise NoCompliantDeployment(
                f"No deployment of '{model.id}' meets your organization's data policy "
                f"({policy.describe()})."
            )
        accepting = [d for d in allowed if not d.draining]
        if not accepting:
            raise BackendUnavailable(f"Every deployment of '{model.id}' is draining.")
        if all(d.saturated for d in accepting if d.healthy) and any(d.healthy for d in accepting):
            raise DeploymentsSaturated(
                f"Every deployment of '{model.id}' is at capacity; retry shortly.", retry_after=1
            )
        if policy.restricted:
            raise NoCompliantDeployment(
                f"No deployment of '{model.id}' that meets your organization's data policy "
                f"({policy.describe()}) is healthy right now."
            )
        accepting.sort(key=lambda d: d.outstanding)
        return tuple(accepting[: self._max_attempts])


def require(model: ServedModel, capability: Capability, *, param: str) -> None:
    if not model.supports(capability):
        raise InvalidRequest(
            f"The model '{model.id}' does not support {_CAPABILITY_WORDS.get(capability, capability)}.",
            param=param,
            code="unsupported_capability",
        )
