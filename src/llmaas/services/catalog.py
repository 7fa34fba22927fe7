"""What ``/v1/models`` shows a given key: the deployed models it may use, with their metadata."""

from __future__ import annotations

from datetime import date

from llmaas.domain.lifecycle import Phase
from llmaas.domain.models import Capability, ServedModel
from llmaas.domain.money import format_eur
from llmaas.domain.principals import Principal
from llmaas.openai_schema.models import (
    Model,
    ModelLifecycle,
    ModelList,
    ModelModalities,
    ModelPricing,
)
from llmaas.services.routing import Router


class CatalogService:
    def __init__(self, router: Router) -> None:
        self._router = router

    def list(self, principal: Principal) -> ModelList:
        today = self._router.today()
        return ModelList(
            data=[
                to_wire(model, today, available=self._router.available(model))
                for model in self._router.models(principal)
            ]
        )

    def get(self, principal: Principal, model_id: str) -> Model:
        """A retired model answers 410 like a call to it would, naming its replacement."""
        model = self._router.model(principal, model_id)
        today = self._router.today()
        if model.phase_on(today) is Phase.RETIRED:
            raise self._router.retirement(model, today)
        return to_wire(model, today, available=self._router.available(model))


def to_wire(model: ServedModel, today: date, *, available: bool) -> Model:
    lifecycle = model.lifecycle
    prices = model.prices
    sunset = lifecycle.sunset.isoformat() if lifecycle.sunset else None
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
        family=model.family,
        publisher=model.publisher,
        parameters=model.parameters,
        modalities=ModelModalities(
            input=sorted(model.modalities.input), output=sorted(model.modalities.output)
        ),
        languages=list(model.languages),
        license=model.license,
        ip_indemnified=model.ip_indemnified,
        energy_kwh_per_million_tokens=model.energy_kwh_per_million_tokens,
        image_tokens=model.image_tokens if model.supports(Capability.VISION) else None,
        pricing=ModelPricing(
            input_per_million_tokens=format_eur(prices.input_per_million),
            output_per_million_tokens=format_eur(prices.output_per_million),
            reasoning_per_million_tokens=format_eur(prices.reasoning_per_million),
            audio_per_minute=format_eur(prices.audio_per_minute),
            rerank_per_million_tokens=format_eur(prices.rerank_per_million),
        ),
        lifecycle=ModelLifecycle(
            phase=model.phase_on(today).value,
            released=lifecycle.released.isoformat() if lifecycle.released else None,
            deprecation_notice=(
                lifecycle.deprecation_notice.isoformat() if lifecycle.deprecation_notice else None
            ),
            sunset=sunset,
            lts=lifecycle.lts,
            replacement=lifecycle.replacement,
        ),
        shutdown_date=sunset,
        available=available,
    )
