"""The catalog: every model the operator sells or has sold, as of a quarterly review.

Retired models stay in the catalog as records, so a call naming one can be answered with its
replacement (410, or a redirect) rather than a puzzling 404.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from llmaas.domain.lifecycle import Phase, Quarter
from llmaas.domain.models import ServedModel


@dataclass(frozen=True, slots=True)
class Catalog:
    models: tuple[ServedModel, ...]
    reviewed_on: date
    """The day of the quarterly review this catalog is the outcome of: declared phases hold then."""
    redirect_retired: frozenset[str] = field(default_factory=frozenset)
    """Retired models whose calls the operator lets the replacement serve (instead of a 410)."""

    @property
    def review(self) -> Quarter:
        return Quarter.containing(self.reviewed_on)

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def get(self, model_id: str) -> ServedModel | None:
        for model in self.models:
            if model.id == model_id:
                return model
        return None

    def by_name(self) -> dict[str, ServedModel]:
        """Ids and aliases -> entries."""
        return {name: model for model in self.models for name in (model.id, *model.aliases)}

    def deployed(self) -> list[ServedModel]:
        return [model for model in self.models if model.deployments]

    def in_phase(self, phase: Phase, day: date) -> list[ServedModel]:
        return [model for model in self.models if model.phase_on(day) is phase]

    def with_models(self, models: Sequence[ServedModel]) -> Catalog:
        return replace(self, models=tuple(models))

    def successor(self, model: ServedModel, day: date) -> ServedModel | None:
        """Follows replacements to the first model not retired on ``day`` (``None``: none, or a loop)."""
        seen = {model.id}
        current = model
        while current.lifecycle.replacement is not None:
            following = self.get(current.lifecycle.replacement)
            if following is None or following.id in seen:
                return None
            if following.phase_on(day) is not Phase.RETIRED:
                return following
            seen.add(following.id)
            current = following
        return None
