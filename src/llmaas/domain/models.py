"""The model catalog's entries and the deployments that serve them.

A ``ServedModel`` is one catalog entry (what the operator sells: capabilities, limits, prices,
lifecycle) joined with the deployments this installation runs for it (possibly none: the catalog
describes more models than a single machine serves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from llmaas.domain.lifecycle import Lifecycle, Phase
from llmaas.domain.locations import Location
from llmaas.domain.pricing import DEFAULT_PRICES, Prices


class Capability(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    TOOLS = "tools"
    JSON_OUTPUT = "json_output"
    VISION = "vision"
    CODE = "code"
    REASONING = "reasoning"
    RERANK = "rerank"
    AUDIO = "audio"
    SAFETY = "safety"
    TRANSLATION = "translation"
    IMAGE_GENERATION = "image_generation"


ENDPOINT_CAPABILITIES = frozenset(
    {
        Capability.CHAT,
        Capability.EMBEDDINGS,
        Capability.RERANK,
        Capability.AUDIO,
        Capability.IMAGE_GENERATION,
        Capability.VISION,
    }
)
"""What a client's code depends on: a replacement must offer all of these that the model offered."""


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    EMBEDDING = "embedding"
    SCORE = "score"


@dataclass(frozen=True, slots=True)
class Modalities:
    input: frozenset[Modality] = frozenset({Modality.TEXT})
    output: frozenset[Modality] = frozenset({Modality.TEXT})


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """One engine instance that serves a model: its kind picks the adapter, ``options`` configure it."""

    name: str
    engine: str
    options: dict[str, Any] = field(default_factory=dict)
    weight: int = 1
    """Share of the traffic relative to the model's other deployments."""
    max_concurrency: int | None = None
    """Requests in flight beyond which this deployment takes no more (``None``: no cap)."""
    draining: bool = False
    """Takes no new requests; in-flight ones finish."""
    location: Location = Location()
    machine: str | None = None
    """The name reported to clients in ``backend.machine_name``; the deployment name by default."""

    @property
    def machine_name(self) -> str:
        return self.machine or self.name


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
    family: str = ""
    publisher: str = ""
    parameters: str | None = None
    """As the publisher states it (``8B``, ``31B (E4B)``, ``567M``)."""
    modalities: Modalities = Modalities()
    languages: tuple[str, ...] = ()
    license: str | None = None
    ip_indemnified: bool = False
    energy_kwh_per_million_tokens: float | None = None
    lifecycle: Lifecycle = Lifecycle()
    image_tokens: int = 1024
    """Prompt tokens charged up front per input image (vision models): the most the model's engine
    spends on one image. Settlement then charges what the engine reports."""

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def phase_on(self, day: date) -> Phase:
        return self.lifecycle.phase_on(day)
