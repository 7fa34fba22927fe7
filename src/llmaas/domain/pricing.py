"""Prices and the cost of usage, in integer EUR micros.

Token prices are quoted per million tokens, so one token costs a fraction of a micro. The cost of a
request is computed from its exact numerator and rounded up once, to a whole micro: summing whole
requests never drifts, and a request is never billed below its true cost by more than zero or above it
by a full micro.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmaas.domain.money import ceil_div
from llmaas.domain.usage import TokenUsage

PER_MILLION = 1_000_000
_PERCENT = 100


@dataclass(frozen=True, slots=True)
class Prices:
    input_per_million: int = 1_800_000
    output_per_million: int = 8_000_000
    reasoning_per_million: int = 8_000_000
    audio_per_minute: int = 10_000
    """Per started minute of audio."""
    rerank_per_million: int = 4_000_000
    batch_discount_percent: int = 50

    def __post_init__(self) -> None:
        for name in (
            "input_per_million",
            "output_per_million",
            "reasoning_per_million",
            "audio_per_minute",
            "rerank_per_million",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not 0 <= self.batch_discount_percent <= _PERCENT:
            raise ValueError("batch_discount_percent must be between 0 and 100")

    def tokens_cost(self, usage: TokenUsage, *, batch: bool = False) -> int:
        """Reasoning tokens are part of the completion tokens (OpenAI's accounting) but priced on
        their own: the visible output is ``completion - reasoning``."""
        reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
        numerator = (
            usage.prompt_tokens * self.input_per_million
            + (usage.completion_tokens - reasoning) * self.output_per_million
            + reasoning * self.reasoning_per_million
        )
        return self._rounded(numerator, PER_MILLION, batch=batch)

    def max_tokens_cost(self, prompt_tokens: int, output_tokens: int) -> int:
        """The most a request may cost: its output priced at the dearer of output and reasoning."""
        numerator = prompt_tokens * self.input_per_million + output_tokens * max(
            self.output_per_million, self.reasoning_per_million
        )
        return self._rounded(numerator, PER_MILLION, batch=False)

    def audio_cost(self, milliseconds: int, *, batch: bool = False) -> int:
        minutes = ceil_div(milliseconds, 60_000)
        return self._rounded(minutes * self.audio_per_minute, 1, batch=batch)

    def rerank_cost(self, tokens: int, *, batch: bool = False) -> int:
        return self._rounded(tokens * self.rerank_per_million, PER_MILLION, batch=batch)

    def _rounded(self, numerator: int, denominator: int, *, batch: bool) -> int:
        if batch:
            numerator *= _PERCENT - self.batch_discount_percent
            denominator *= _PERCENT
        return ceil_div(numerator, denominator)


DEFAULT_PRICES = Prices()
