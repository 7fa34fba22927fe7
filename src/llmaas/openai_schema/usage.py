"""The ``usage`` object shared by chat, completions and embeddings."""

from __future__ import annotations

from llmaas.domain.usage import TokenUsage
from llmaas.openai_schema.base import WireObject, omitted_if_none


class CompletionTokensDetails(WireObject):
    reasoning_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0


class PromptTokensDetails(WireObject):
    cached_tokens: int = 0


class CompletionUsage(WireObject):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails | None = omitted_if_none()
    prompt_tokens_details: PromptTokensDetails | None = omitted_if_none()

    @classmethod
    def from_domain(cls, usage: TokenUsage) -> CompletionUsage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            completion_tokens_details=CompletionTokensDetails(
                reasoning_tokens=usage.reasoning_tokens
            ),
            prompt_tokens_details=PromptTokensDetails(cached_tokens=0),
        )

    def to_domain(self) -> TokenUsage:
        details = self.completion_tokens_details
        return TokenUsage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            reasoning_tokens=details.reasoning_tokens if details else 0,
        )


class EmbeddingUsage(WireObject):
    prompt_tokens: int
    total_tokens: int
