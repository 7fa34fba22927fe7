"""Pricing must never lose or invent a micro-unit: checked against exact rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.pricing import DEFAULT_PRICES, Prices
from llmaas.domain.usage import TokenUsage

tokens = st.integers(min_value=0, max_value=10_000_000)
prices = st.builds(
    Prices,
    input_per_million=st.integers(0, 100_000_000),
    output_per_million=st.integers(0, 100_000_000),
    reasoning_per_million=st.integers(0, 100_000_000),
    audio_per_minute=st.integers(0, 10_000_000),
    rerank_per_million=st.integers(0, 100_000_000),
    batch_discount_percent=st.integers(0, 100),
)


def exact(usage: TokenUsage, p: Prices) -> Fraction:
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
    return (
        Fraction(usage.prompt_tokens * p.input_per_million, 1_000_000)
        + Fraction((usage.completion_tokens - reasoning) * p.output_per_million, 1_000_000)
        + Fraction(reasoning * p.reasoning_per_million, 1_000_000)
    )


@given(tokens, tokens, tokens, prices)
def test_a_request_costs_its_exact_price_rounded_up_to_the_micro(
    prompt: int, completion: int, reasoning: int, p: Prices
) -> None:
    usage = TokenUsage(prompt, completion, min(reasoning, completion))
    cost = p.tokens_cost(usage)
    truth = exact(usage, p)
    assert isinstance(cost, int)
    assert truth <= cost < truth + 1
    assert cost == math.ceil(truth)


@given(tokens, tokens, prices)
def test_the_reservation_bound_is_never_below_the_actual_cost(
    prompt: int, output: int, p: Prices
) -> None:
    bound = p.max_tokens_cost(prompt, output)
    for used_prompt, used_output in ((prompt, output), (prompt // 2, output // 3), (0, 0)):
        for reasoning in (0, used_output):
            assert p.tokens_cost(TokenUsage(used_prompt, used_output, reasoning)) <= bound


@given(tokens, tokens, prices)
def test_batch_pricing_applies_the_discount_exactly(
    prompt: int, completion: int, p: Prices
) -> None:
    usage = TokenUsage(prompt, completion)
    discounted = p.tokens_cost(usage, batch=True)
    truth = exact(usage, p) * Fraction(100 - p.batch_discount_percent, 100)
    assert discounted == math.ceil(truth)
    assert discounted <= p.tokens_cost(usage)


@given(st.integers(0, 10 * 3_600_000), prices)
def test_audio_is_billed_per_started_minute(milliseconds: int, p: Prices) -> None:
    minutes = math.ceil(milliseconds / 60_000)
    assert p.audio_cost(milliseconds) == minutes * p.audio_per_minute


def test_the_default_prices_are_the_published_ones() -> None:
    assert DEFAULT_PRICES.tokens_cost(TokenUsage(1_000_000, 0)) == 1_800_000
    assert DEFAULT_PRICES.tokens_cost(TokenUsage(0, 1_000_000)) == 8_000_000
    assert DEFAULT_PRICES.tokens_cost(TokenUsage(0, 1_000_000, 1_000_000)) == 8_000_000
    assert DEFAULT_PRICES.audio_cost(61_000) == 20_000  # two started minutes at 0.01 EUR
    assert DEFAULT_PRICES.rerank_cost(1_000_000) == 4_000_000
    assert DEFAULT_PRICES.tokens_cost(TokenUsage(1_000_000, 0), batch=True) == 900_000
    # One token of input costs 1.8 micros: billed as 2, never as 0 or 1.
    assert DEFAULT_PRICES.tokens_cost(TokenUsage(1, 0)) == 2
