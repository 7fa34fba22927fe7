"""Token usage and the metadata-only usage event that leaves the request path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    """Part of ``completion_tokens`` (OpenAI's accounting), priced on its own."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


class Outcome(StrEnum):
    OK = "ok"
    CLIENT_DISCONNECTED = "client_disconnected"
    FAILED = "failed"
    BLOCKED = "blocked"
    """Refused by the prompt-injection guardrail after admission: nothing generated, nothing billed."""


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One request's consumption. By construction it has no field that could hold prompt or output."""

    request_id: str
    key_id: str
    model: str
    deployment: str
    endpoint: str
    usage: TokenUsage
    latency_ms: float
    outcome: Outcome
    streamed: bool
    organization_id: str = ""
    cost_micros: int = 0
    time_to_first_token_ms: float | None = None
    audio_ms: int = 0
    batch: bool = False
    occurred_at: datetime | None = None
    """When the request ended (UTC); set by metering."""
