"""``POST /v1/completions`` (the legacy text completion API, still used by many tools)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmaas.openai_schema.base import WireObject, WireRequest, omitted_if_none
from llmaas.openai_schema.chat import Stop, StreamOptions
from llmaas.openai_schema.usage import CompletionUsage

Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(WireRequest):
    model: str
    prompt: Prompt
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1, le=16)] | None = None
    stop: Stop | None = None
    seed: int | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    echo: bool | None = None
    suffix: str | None = None
    best_of: Annotated[int, Field(ge=1, le=16)] | None = None
    logit_bias: dict[str, float] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    user: str | None = None

    @property
    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def wants_stream_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def prompts(self) -> list[str | list[int]]:
        """The batch of prompts: a string, token ids, or a list of either."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [prompt]
        if prompt and all(isinstance(p, int) for p in prompt):
            return [[int(p) for p in prompt if isinstance(p, int)]]
        return [p for p in prompt if isinstance(p, str | list)]


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
