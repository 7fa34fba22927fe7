"""What ``/v1/models`` shows a given key."""

from __future__ import annotations

from llmaas.domain.models import ServedModel
from llmaas.domain.principals import Principal
from llmaas.openai_schema.models import Model, ModelList
from llmaas.services.routing import Router


class CatalogService:
    def __init__(self, router: Router) -> None:
        self._router = router

    def list(self, principal: Principal) -> ModelList:
        return ModelList(data=[to_wire(model) for model in self._router.models(principal)])

    def get(self, principal: Principal, model_id: str) -> Model:
        return to_wire(self._router.model(principal, model_id))


def to_wire(model: ServedModel) -> Model:
    return Model(
        id=model.id,
        created=model.created,
        owned_by=model.owned_by,
        context_length=model.context_length,
        max_model_len=model.context_length,
        max_output_tokens=model.max_output_tokens,
        capabilities=sorted(str(c) for c in model.capabilities),
        aliases=list(model.aliases),
        embedding_dimensions=model.embedding_dimensions,
        description=model.description,
    )
