"""Reading the models file: which catalog models this installation serves, and on which deployments.

Each entry names a catalog model by id and lists its deployments; a model that is not in the catalog
(a private fine-tune, a test double) is described in full, with the catalog's fields. The schema is
validated with pydantic so a typo fails at start-up with the file's own path in the message, not at
the first request. See ``llmaas/config/models.yaml`` for the embedded default.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmaas.adapters.catalog_file import (
    MODEL_ID_PATTERN,
    ConfigError,
    ModelEntry,
    check_unique_names,
    load_catalog,
    read_yaml,
)
from llmaas.domain.catalog import Catalog
from llmaas.domain.locations import Location
from llmaas.domain.models import DeploymentSpec, ServedModel
from llmaas.domain.money import InvalidAmount
from llmaas.domain.secrets import Secret

__all__ = ["ConfigError", "load_models", "load_served_catalog"]


class _Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    site: str | None = None
    operator: str | None = None
    certifications: list[str] = []

    def to_domain(self) -> Location:
        return Location.of(self.country, self.site, self.operator, self.certifications)


class _Deployment(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    engine: str
    weight: int = Field(default=1, ge=1, le=1000)
    max_concurrency: int | None = Field(default=None, ge=1)
    draining: bool = False
    machine: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    location: _Location | None = None


class _Served(BaseModel):
    """A catalog model by id, or a private model in full; either way with its deployments."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=MODEL_ID_PATTERN)
    deployments: list[_Deployment] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[_Served] = Field(min_length=1)
    redirect_retired: list[str] = []
    """Retired models whose calls their replacement serves, instead of a 410."""


def default_config_text() -> str:
    return resources.files("llmaas").joinpath("config/models.yaml").read_text(encoding="utf-8")


def load_served_catalog(config: Path | None, catalog_path: Path | None = None) -> Catalog:
    """The catalog with this installation's deployments joined in, plus any private models."""
    return _join(config, load_catalog(catalog_path))


def load_models(config: Path | None, catalog_path: Path | None = None) -> list[ServedModel]:
    """The models the file deploys (each with its deployments)."""
    return _join(config, load_catalog(catalog_path)).deployed()


def _join(path: Path | None, catalog: Catalog) -> Catalog:
    source = str(path) if path is not None else "<default models.yaml>"
    raw = read_yaml(path, default_config_text() if path is None else "", source)
    try:
        parsed = _File.model_validate(raw)
        served = {entry.id: _served(entry, catalog, path) for entry in parsed.models}
    except ValidationError as error:
        raise ConfigError(f"{source}: {error}") from error
    except InvalidAmount as error:
        raise ConfigError(f"{source}: pricing: {error}") from error
    except (ValueError, OSError) as error:
        raise ConfigError(f"{source}: {error}") from error
    if len(served) != len(parsed.models):
        twice = sorted(
            {e.id for e in parsed.models if [m.id for m in parsed.models].count(e.id) > 1}
        )
        raise ConfigError(f"{source}: model name '{twice[0]}' is declared twice")
    models = [served.pop(model.id, model) for model in catalog.models]
    models.extend(served.values())  # private models, in file order
    check_unique_names(models, source)
    _check_unique_deployments(models, source)
    for name in parsed.redirect_retired:
        if catalog.get(name) is None:
            raise ConfigError(f"{source}: redirect_retired names '{name}', not in the catalog")
    return replace(catalog.with_models(models), redirect_retired=frozenset(parsed.redirect_retired))


def _served(entry: _Served, catalog: Catalog, path: Path | None) -> ServedModel:
    base_dir = path.parent if path is not None else None
    deployments = tuple(_deployment(d, base_dir) for d in entry.deployments)
    described = dict(entry.model_extra or {})
    known = catalog.get(entry.id)
    if known is not None:
        if described:
            raise ValueError(
                f"'{entry.id}' is in the catalog: list only its deployments here "
                f"(remove {', '.join(sorted(described))}, or change the catalog)"
            )
        return replace(known, deployments=deployments)
    private = ModelEntry.model_validate({"id": entry.id, **described}).to_domain()
    return replace(private, deployments=deployments)


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
    return DeploymentSpec(
        name=deployment.name,
        engine=deployment.engine,
        options=options,
        weight=deployment.weight,
        max_concurrency=deployment.max_concurrency,
        draining=deployment.draining,
        machine=deployment.machine,
        location=deployment.location.to_domain() if deployment.location else Location(),
    )


def _check_unique_deployments(models: list[ServedModel], source: str) -> None:
    names: set[str] = set()
    for spec in (spec for model in models for spec in model.deployments):
        if spec.name in names:
            raise ConfigError(f"{source}: deployment name '{spec.name}' is declared twice")
        names.add(spec.name)
