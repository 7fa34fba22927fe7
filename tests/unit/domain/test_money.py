from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.money import InvalidAmount, eur_to_micros, format_eur, micros_to_eur


@given(st.integers(min_value=0, max_value=10**15))
def test_formatting_and_parsing_round_trip_exactly(micros: int) -> None:
    assert eur_to_micros(format_eur(micros)) == micros
    assert eur_to_micros(micros_to_eur(micros)) == micros


@pytest.mark.parametrize(
    ("text", "micros"),
    [("1.80", 1_800_000), ("0.000001", 1), ("1000", 1_000_000_000), (12, 12_000_000)],
)
def test_decimal_text_becomes_micros(text: str | int, micros: int) -> None:
    assert eur_to_micros(text) == micros


@pytest.mark.parametrize("text", ["0.0000001", "-1", "abc", "NaN", "Infinity", "1e400x"])
def test_amounts_that_would_need_rounding_or_make_no_sense_are_refused(text: str) -> None:
    with pytest.raises(InvalidAmount):
        eur_to_micros(text)


def test_formatting_keeps_cents_and_drops_only_trailing_zeros() -> None:
    assert format_eur(1_000_000_000) == "1000.00"
    assert format_eur(1_234_567) == "1.234567"
    assert format_eur(10_000) == "0.01"
    assert format_eur(-2_500_000) == "-2.50"
    assert Decimal(format_eur(1)) == Decimal("0.000001")
