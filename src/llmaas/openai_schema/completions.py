"""``POST /v1/completions`` (the legacy text completion API, still used by many tools)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmaas.openai_schema.backend import BackendInfo
from llmaas.openai_schema.base import WireObject, as_batch, omitted_if_none
from llmaas.openai_schema.generation import GenerationRequest
from llmaas.openai_schema.usage import CompletionUsage

Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(GenerationRequest):
    prompt: Prompt
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    echo: bool | None = None
    suffix: str | None = None
    best_of: Annotated[int, Field(ge=1, le=16)] | None = None

    def prompts(self) -> list[str | list[int]]:
        return as_batch(self.prompt)


class CompletionLogprobs(WireObject):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None
    text_offset: list[int]


CompletionFinishReason = Literal["stop", "length", "content_filter"]


class CompletionChoice(WireObject):
    index: int
    text: str
    finish_reason: CompletionFinishReason | None
    logprobs: CompletionLogprobs | None = None


class Completion(WireObject):
    """Both the response and each stream chunk (OpenAI streams the same object type)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage | None = omitted_if_none()
    system_fingerprint: str | None = omitted_if_none()
    backend: BackendInfo | None = omitted_if_none()
    """Which engine and machine served it (an llmaas extension)."""
