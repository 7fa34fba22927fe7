"""The models this gateway serves and the deployments behind them (as configured)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from llmaas.domain.pricing import DEFAULT_PRICES, Prices


class Capability(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    TOOLS = "tools"
    JSON_OUTPUT = "json_output"
    VISION = "vision"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """One engine instance that serves a model: its kind picks the adapter, ``options`` configure it."""

    name: str
    engine: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServedModel:
    id: str
    owned_by: str
    created: int
    context_length: int
    capabilities: frozenset[Capability]
    deployments: tuple[DeploymentSpec, ...]
    aliases: tuple[str, ...] = ()
    max_output_tokens: int | None = None
    embedding_dimensions: int | None = None
    description: str = ""
    prices: Prices = DEFAULT_PRICES

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities
