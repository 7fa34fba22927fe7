"""The CLI's value parsers: what an operator may type, and what is refused before any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaas.cli_options import (
    Expiry,
    Grouping,
    LimitOptions,
    LimitValue,
    ModelList,
    parse_count,
    parse_duration,
    parse_eur,
    parse_eur_limit,
    parse_expiry,
    parse_grouping,
    parse_models,
    parse_moment,
)
from llmaas.domain.limits import Limits
from llmaas.domain.money import format_eur
from llmaas.domain.usage_reports import GroupBy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("3600", timedelta(hours=1)),
        ("3600s", timedelta(hours=1)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("1d", timedelta(days=1)),
        ("30D", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(minutes=90)),
        (" 1d12h ", timedelta(hours=36)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "1y", "-1d", "1.5h", "tomorrow", "1d 2h"])
def test_malformed_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_moments() -> None:
    assert parse_moment("2027-01-31") == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_moment("2027-01-31T12:30:00") == datetime(2027, 1, 31, 12, 30, tzinfo=UTC)
    paris = parse_moment("2027-01-31T12:30:00+01:00")
    assert paris == datetime(2027, 1, 31, 11, 30, tzinfo=UTC)
    assert paris.tzinfo == timezone(timedelta(hours=1))


@pytest.mark.parametrize("text", ["January", "2027-13-01", "31/01/2027", ""])
def test_malformed_moments(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_moment(text)


def test_expiries() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)

    assert parse_expiry("2027-01-31").resolve(now) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry("30d").resolve(now) == now + timedelta(days=30)
    assert parse_expiry("none") == Expiry()
    assert parse_expiry("never").resolve(now) is None
    with pytest.raises(ValueError, match="not an expiry"):
        parse_expiry("soon")


def test_counts() -> None:
    assert parse_count("60") == LimitValue(60)
    assert parse_count("1_000") == LimitValue(1000)
    assert parse_count("3,600,000") == LimitValue(3_600_000)
    assert parse_count("0") == LimitValue(0)
    assert parse_count("None") == LimitValue(None)
    assert parse_count("unlimited") == LimitValue(None)
    for bad in ("-1", "1.5", "ten", ""):
        with pytest.raises(ValueError, match="whole number"):
            parse_count(bad)


def test_eur_amounts_are_exact_micros() -> None:
    assert parse_eur("12.50") == 12_500_000
    assert parse_eur("€0.000001") == 1
    assert parse_eur("100") == 100_000_000
    assert parse_eur_limit("none") == LimitValue(None)
    assert parse_eur_limit("7") == LimitValue(7_000_000)
    for bad in ("abc", "-1", "0.0000001", "NaN", "inf"):
        with pytest.raises(ValueError, match=r"amount|decimals"):
            parse_eur(bad)


@given(st.integers(min_value=0, max_value=10**15))
def test_eur_round_trips_through_the_displayed_text(micros: int) -> None:
    assert parse_eur(format_eur(micros)) == micros


def test_models() -> None:
    assert parse_models("a,b") == ModelList(frozenset({"a", "b"}))
    assert parse_models(" a , , b ") == ModelList(frozenset({"a", "b"}))
    assert parse_models("all") == ModelList(None)
    assert parse_models("*") == ModelList(None)
    with pytest.raises(ValueError, match="model ids"):
        parse_models(" , ")


def test_grouping() -> None:
    assert parse_grouping("key,model,day") == Grouping((GroupBy.KEY, GroupBy.MODEL, GroupBy.DAY))
    assert parse_grouping("org, MODEL, model") == Grouping((GroupBy.ORGANIZATION, GroupBy.MODEL))
    assert parse_grouping("none") == Grouping(())
    with pytest.raises(ValueError, match="cannot group by 'colour'"):
        parse_grouping("key,colour")


def test_limit_options_change_only_what_was_given() -> None:
    current = Limits(requests_per_minute=60, tokens_per_minute=100, monthly_budget_micros=5)
    options = LimitOptions(rpm=LimitValue(None), budget=LimitValue(9), max_concurrent=LimitValue(2))

    assert options.given
    assert options.changes() == {
        "requests_per_minute": None,
        "max_concurrent_requests": 2,
        "monthly_budget_micros": 9,
    }
    assert options.applied_to(current) == Limits(
        tokens_per_minute=100, max_concurrent_requests=2, monthly_budget_micros=9
    )
    assert not LimitOptions().given
    assert LimitOptions().applied_to(current) == current
