"""Reading the YAML file that declares the served models and the deployments behind each.

The schema is validated with pydantic so a typo fails at start-up with the file's own path in the
message, not at the first request. See ``llmaas/config/models.yaml`` for the embedded default.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.money import InvalidAmount, eur_to_micros
from llmaas.domain.pricing import DEFAULT_PRICES, Prices
from llmaas.domain.secrets import Secret


class ConfigError(ValueError):
    pass


class _Deployment(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    engine: str


Eur = str | int
"""Amounts are written as decimal text (``"1.80"``) or whole numbers, never binary floats."""


class _Pricing(BaseModel):
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
        return Prices(**{**_default_prices(), **values})


def _default_prices() -> dict[str, int]:
    return {name: getattr(DEFAULT_PRICES, name) for name in Prices.__dataclass_fields__}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.:/-]{1,100}$")
    aliases: list[str] = []
    owned_by: str
    created: date
    description: str = ""
    context_length: int = Field(ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    embedding_dimensions: int | None = Field(default=None, ge=1)
    capabilities: list[Capability]
    pricing: _Pricing = _Pricing()
    deployments: list[_Deployment] = Field(min_length=1)

    @field_validator("capabilities")
    @classmethod
    def _not_empty(cls, value: list[Capability]) -> list[Capability]:
        if not value:
            raise ValueError("a model needs at least one capability")
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[_Model] = Field(min_length=1)


def default_config_text() -> str:
    return resources.files("llmaas").joinpath("config/models.yaml").read_text(encoding="utf-8")


def load_models(path: Path | None) -> list[ServedModel]:
    """Parse ``path`` (or the packaged default) into served models, checking cross-references."""
    source = str(path) if path is not None else "<default models.yaml>"
    try:
        text = path.read_text(encoding="utf-8") if path is not None else default_config_text()
        raw = yaml.safe_load(text)
        parsed = _File.model_validate(raw)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: {error}") from error
    except ValidationError as error:
        raise ConfigError(f"{source}: {error}") from error
    try:
        models = [_to_domain(m, path.parent if path else None) for m in parsed.models]
    except InvalidAmount as error:
        raise ConfigError(f"{source}: pricing: {error}") from error
    _check_unique(models, source)
    return models


def _to_domain(model: _Model, base_dir: Path | None) -> ServedModel:
    return ServedModel(
        id=model.id,
        owned_by=model.owned_by,
        created=int(datetime.combine(model.created, datetime.min.time(), UTC).timestamp()),
        context_length=model.context_length,
        capabilities=frozenset(model.capabilities),
        deployments=tuple(_deployment(d, base_dir) for d in model.deployments),
        aliases=tuple(model.aliases),
        max_output_tokens=model.max_output_tokens,
        embedding_dimensions=model.embedding_dimensions,
        description=model.description,
        prices=model.pricing.to_domain(),
    )


def _deployment(deployment: _Deployment, base_dir: Path | None) -> DeploymentSpec:
    options: dict[str, Any] = dict(deployment.model_extra or {})
    key_file = options.pop("api_key_file", None)
    if key_file is not None:
        key_path = Path(str(key_file))
        if not key_path.is_absolute() and base_dir is not None:
            key_path = base_dir / key_path
        options["api_key"] = Secret(key_path.read_text(encoding="utf-8").strip())
    elif "api_key" in options:
        options["api_key"] = Secret(str(options["api_key"]))
    return DeploymentSpec(name=deployment.name, engine=deployment.engine, options=options)


def _check_unique(models: list[ServedModel], source: str) -> None:
    names: set[str] = set()
    deployments: set[str] = set()
    for model in models:
        for name in (model.id, *model.aliases):
            if name in names:
                raise ConfigError(f"{source}: model name '{name}' is declared twice")
            names.add(name)
        for spec in model.deployments:
            if spec.name in deployments:
                raise ConfigError(f"{source}: deployment name '{spec.name}' is declared twice")
            deployments.add(spec.name)
