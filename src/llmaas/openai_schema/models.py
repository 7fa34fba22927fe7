"""``/v1/models``: OpenAI's fields plus the metadata clients need to pick a model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from llmaas.openai_schema.base import WireObject, omitted_if_none


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


class ModelList(WireObject):
    object: Literal["list"] = "list"
    data: list[Model]
