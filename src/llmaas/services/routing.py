"""Stage 4 of the pipeline: a model name becomes the deployments that may serve the request.

Round-robin spreads load over a model's deployments; the caller walks the returned candidates in order,
so a deployment that is down is skipped (failover) before any byte reaches the client.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from llmaas.domain.errors import InvalidRequest, ModelNotFound, echoed_id
from llmaas.domain.models import Capability, ServedModel
from llmaas.domain.principals import Principal
from llmaas.ports.backends import InferenceBackend

_CAPABILITY_WORDS = {
    Capability.CHAT: "chat completions",
    Capability.COMPLETIONS: "text completions",
    Capability.EMBEDDINGS: "embeddings",
    Capability.TOOLS: "tool calling",
    Capability.JSON_OUTPUT: "structured (JSON) output",
    Capability.VISION: "image input",
}


@dataclass(frozen=True, slots=True)
class Route:
    model: ServedModel
    candidates: tuple[InferenceBackend, ...]


class Router:
    def __init__(
        self, models: Sequence[ServedModel], backends: Mapping[str, InferenceBackend]
    ) -> None:
        self._models = {model.id: model for model in models}
        self._by_name: dict[str, ServedModel] = {}
        for model in models:
            for name in (model.id, *model.aliases):
                self._by_name[name] = model
        self._backends: dict[str, tuple[InferenceBackend, ...]] = {
            model.id: tuple(backends[d.name] for d in model.deployments) for model in models
        }
        self._turns: dict[str, Iterator[int]] = {
            model.id: itertools.cycle(range(len(model.deployments))) for model in models
        }

    def models(self, principal: Principal) -> list[ServedModel]:
        return [model for model in self._models.values() if principal.may_use(model.id)]

    def model(self, principal: Principal, name: str) -> ServedModel:
        model = self._by_name.get(name)
        if model is None or not principal.may_use(model.id):
            raise ModelNotFound(
                f"The model '{echoed_id(name)}' does not exist or you do not have access to it.",
                param="model",
            )
        return model

    def resolve(self, principal: Principal, name: str, capability: Capability) -> Route:
        model = self.model(principal, name)
        require(model, capability, param="model")
        backends = self._backends[model.id]
        if not backends:
            return Route(model, ())
        start = next(self._turns[model.id])
        return Route(model, backends[start:] + backends[:start])

    def all_backends(self) -> list[InferenceBackend]:
        return [backend for group in self._backends.values() for backend in group]


def require(model: ServedModel, capability: Capability, *, param: str) -> None:
    if not model.supports(capability):
        raise InvalidRequest(
            f"The model '{model.id}' does not support {_CAPABILITY_WORDS.get(capability, capability)}.",
            param=param,
            code="unsupported_capability",
        )
