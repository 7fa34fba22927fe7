"""What admission reserves for a request, and what it tells the caller about its limits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Dimension(StrEnum):
    """What a limit counts; a refusal names the one that was exhausted."""

    REQUESTS_PER_MINUTE = "requests per minute"
    TOKENS_PER_MINUTE = "tokens per minute"
    OUTPUT_TOKENS_PER_HOUR = "output tokens per hour"
    OUTPUT_TOKENS_PER_DAY = "output tokens per day"
    CONCURRENT_REQUESTS = "concurrent requests"
    MONTHLY_BUDGET = "monthly budget"
    PREPAID_CREDIT = "prepaid credit"

    @property
    def is_rate(self) -> bool:
        """Rate limits refill by themselves (``rate_limit_exceeded``); budgets and credit do not
        within the request's horizon (``insufficient_quota``)."""
        return self not in (Dimension.MONTHLY_BUDGET, Dimension.PREPAID_CREDIT)


@dataclass(frozen=True, slots=True)
class Demand:
    """The most a request can consume: what admission reserves before any engine is involved."""

    prompt_tokens: int
    output_tokens: int
    cost_micros: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Consumption:
    """What a request actually consumed, to settle its reservation."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class LimitState:
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The tightest requests-per-minute and tokens-per-minute limits that apply to the caller."""

    requests: LimitState | None = None
    tokens: LimitState | None = None
