"""Reading the catalog YAML: the models the operator sells, their prices and their lifecycle.

The packaged ``llmaas/config/catalog.yaml`` is the outcome of the latest quarterly review; an operator
replaces it with ``--catalog`` (``LLMAAS_CATALOG``). Deployments are not part of the catalog: they live
in the models file (``--config``), which changes daily while the catalog changes quarterly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmaas.domain.catalog import Catalog
from llmaas.domain.lifecycle import Lifecycle, Phase
from llmaas.domain.models import Capability, Modalities, Modality, ServedModel
from llmaas.domain.money import InvalidAmount, eur_to_micros
from llmaas.domain.pricing import DEFAULT_PRICES, Prices


class ConfigError(ValueError):
    pass


Eur = str | int
"""Amounts are written as decimal text (``"1.80"``) or whole numbers, never binary floats."""

MODEL_ID_PATTERN = r"^[A-Za-z0-9_.:/-]{1,100}$"


class PricingEntry(BaseModel):
    """EUR prices; any omitted one keeps the platform default."""

    model_config = ConfigDict(extra="forbid")

    input_per_million: Eur | None = None
    output_per_million: Eur | None = None
    reasoning_per_million: Eur | None = None
    audio_per_minute: Eur | None = None
    rerank_per_million: Eur | None = None
    batch_discount_percent: int | None = Field(default=None, ge=0, le=100)

    def to_domain(self) -> Prices:
        values: dict[str, int] = {}
        for name in Prices.__dataclass_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            values[name] = value if name == "batch_discount_percent" else eur_to_micros(value)
        defaults = {name: getattr(DEFAULT_PRICES, name) for name in Prices.__dataclass_fields__}
        return Prices(**{**defaults, **values})


class LifecycleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: Phase = Phase.PRODUCTION
    released: date | None = None
    deprecation_notice: date | None = None
    sunset: date | None = None
    lts: bool = False
    replacement: str | None = None

    def to_domain(self) -> Lifecycle:
        return Lifecycle(**self.model_dump())


class ModalitiesEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: list[Modality] = [Modality.TEXT]
    output: list[Modality] = [Modality.TEXT]


class ModelEntry(BaseModel):
    """One model's description, as the catalog (or a models file, for a private model) writes it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=MODEL_ID_PATTERN)
    aliases: list[str] = []
    family: str = ""
    publisher: str = ""
    owned_by: str | None = None
    """Defaults to the family (OpenAI's field)."""
    created: date | None = None
    """Defaults to the release date."""
    parameters: str | None = None
    description: str = ""
    context_length: int = Field(ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    embedding_dimensions: int | None = Field(default=None, ge=1)
    modalities: ModalitiesEntry = ModalitiesEntry()
    capabilities: list[Capability]
    languages: list[str] = []
    license: str | None = None
    ip_indemnified: bool = False
    energy_kwh_per_million_tokens: float | None = Field(default=None, ge=0)
    image_tokens: int = Field(default=1024, ge=0)
    """Tokens reserved per input image (vision): Gemma 3 spends 256, LLaVA-1.5 576; models that tile
    (Qwen-VL, Mistral) spend up to the engine's pixel cap, which this figure should cover."""
    pricing: PricingEntry = PricingEntry()
    lifecycle: LifecycleEntry = LifecycleEntry()

    @field_validator("capabilities")
    @classmethod
    def _not_empty(cls, value: list[Capability]) -> list[Capability]:
        if not value:
            raise ValueError("a model needs at least one capability")
        return value

    def to_domain(self) -> ServedModel:
        created = self.created or self.lifecycle.released
        owned_by = self.owned_by or self.family or self.publisher
        if created is None:
            raise ValueError(f"model '{self.id}': give 'created' or 'lifecycle.released'")
        if not owned_by:
            raise ValueError(f"model '{self.id}': give 'owned_by' (or 'family')")
        return ServedModel(
            id=self.id,
            owned_by=owned_by,
            created=int(datetime.combine(created, datetime.min.time(), UTC).timestamp()),
            context_length=self.context_length,
            capabilities=frozenset(self.capabilities),
            deployments=(),
            aliases=tuple(self.aliases),
            max_output_tokens=self.max_output_tokens,
            embedding_dimensions=self.embedding_dimensions,
            description=self.description,
            prices=self.pricing.to_domain(),
            family=self.family,
            publisher=self.publisher,
            parameters=self.parameters,
            modalities=Modalities(
                input=frozenset(self.modalities.input), output=frozenset(self.modalities.output)
            ),
            languages=tuple(self.languages),
            license=self.license,
            ip_indemnified=self.ip_indemnified,
            energy_kwh_per_million_tokens=self.energy_kwh_per_million_tokens,
            image_tokens=self.image_tokens,
            lifecycle=self.lifecycle.to_domain(),
        )


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewed_on: date
    models: list[ModelEntry] = Field(min_length=1)


def default_catalog_text() -> str:
    return resources.files("llmaas").joinpath("config/catalog.yaml").read_text(encoding="utf-8")


def read_yaml(path: Path | None, default: str, source: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8") if path is not None else default
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: {error}") from error


def load_catalog(path: Path | None = None) -> Catalog:
    """Parse ``path`` (or the packaged catalog). Checks the file's shape only: the lifecycle policy
    is ``domain.catalog_policy``'s job, so a broken file can still be diffed and explained."""
    source = str(path) if path is not None else "<packaged catalog.yaml>"
    raw = read_yaml(path, default_catalog_text() if path is None else "", source)
    try:
        parsed = _CatalogFile.model_validate(raw)
        models = [entry.to_domain() for entry in parsed.models]
    except ValidationError as error:
        raise ConfigError(f"{source}: {error}") from error
    except InvalidAmount as error:
        raise ConfigError(f"{source}: pricing: {error}") from error
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from error
    check_unique_names(models, source)
    return Catalog(models=tuple(models), reviewed_on=parsed.reviewed_on)


def check_unique_names(models: list[ServedModel], source: str) -> None:
    names: set[str] = set()
    for model in models:
        for name in (model.id, *model.aliases):
            if name in names:
                raise ConfigError(f"{source}: model name '{name}' is declared twice")
            names.add(name)
