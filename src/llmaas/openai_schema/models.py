"""``/v1/models``: OpenAI's fields plus the metadata clients need to pick a model and plan migrations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from llmaas.openai_schema.base import WireObject, omitted_if_none


class ModelPricing(WireObject):
    """EUR, as exact decimal text."""

    currency: Literal["EUR"] = "EUR"
    input_per_million_tokens: str
    output_per_million_tokens: str
    reasoning_per_million_tokens: str
    audio_per_minute: str
    rerank_per_million_tokens: str


class ModelModalities(WireObject):
    input: list[str]
    output: list[str]


class ModelLifecycle(WireObject):
    phase: Literal["preview", "production", "deprecated", "retired"]
    released: str | None = None
    deprecation_notice: str | None = None
    sunset: str | None = None
    """End of support (ISO date), after which calls are refused."""
    lts: bool = False
    replacement: str | None = None


class Model(WireObject):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    context_length: int
    max_model_len: int
    max_output_tokens: int | None = omitted_if_none()
    capabilities: list[str]
    aliases: list[str] = Field(default_factory=list)
    embedding_dimensions: int | None = omitted_if_none()
    description: str = ""
    family: str = ""
    publisher: str = ""
    parameters: str | None = None
    modalities: ModelModalities | None = None
    languages: list[str] = Field(default_factory=list)
    license: str | None = None
    ip_indemnified: bool = False
    energy_kwh_per_million_tokens: float | None = None
    image_tokens: int | None = omitted_if_none()
    """Vision models only: prompt tokens reserved per input image (the engine's count is billed)."""
    pricing: ModelPricing | None = None
    lifecycle: ModelLifecycle | None = None
    shutdown_date: str | None = None
    """OpenAI's name for the end of support (ISO date), ``null`` when none is scheduled."""
    available: bool = True
    """Whether a healthy deployment serves the model right now."""


class ModelList(WireObject):
    object: Literal["list"] = "list"
    data: list[Model]
