"""A model's phase on a day, and the quarters reviews are named by."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.lifecycle import MINIMUM_NOTICE, Lifecycle, Phase, Quarter

NOTICE = date(2026, 10, 1)
SUNSET = date(2026, 12, 30)
ANNOUNCED = Lifecycle(Phase.PRODUCTION, date(2025, 6, 13), NOTICE, SUNSET, replacement="next")


def test_the_dates_move_a_production_model_through_its_phases() -> None:
    assert ANNOUNCED.phase_on(NOTICE - timedelta(days=1)) is Phase.PRODUCTION
    assert ANNOUNCED.phase_on(NOTICE) is Phase.DEPRECATED
    assert ANNOUNCED.phase_on(SUNSET - timedelta(days=1)) is Phase.DEPRECATED
    assert ANNOUNCED.phase_on(SUNSET) is Phase.RETIRED


def test_a_declared_phase_holds_until_the_dates_say_more() -> None:
    assert Lifecycle(Phase.PREVIEW).phase_on(date(2030, 1, 1)) is Phase.PREVIEW
    assert Lifecycle(Phase.DEPRECATED).phase_on(date(2020, 1, 1)) is Phase.DEPRECATED
    assert Lifecycle(Phase.RETIRED).phase_on(date(2020, 1, 1)) is Phase.RETIRED
    # A sunset wins over any declared phase: nobody has to edit the file on the day.
    assert Lifecycle(Phase.PREVIEW, sunset=SUNSET).phase_on(SUNSET) is Phase.RETIRED


def test_the_notice_period() -> None:
    assert ANNOUNCED.notice_period == MINIMUM_NOTICE == timedelta(days=90)
    assert Lifecycle(sunset=SUNSET).notice_period is None


@given(st.dates(), st.dates())
def test_the_phase_never_goes_back(first: date, second: date) -> None:
    order = [Phase.PREVIEW, Phase.PRODUCTION, Phase.DEPRECATED, Phase.RETIRED]
    earlier, later = sorted((first, second))
    assert order.index(ANNOUNCED.phase_on(earlier)) <= order.index(ANNOUNCED.phase_on(later))


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2027Q1", date(2027, 1, 1), date(2027, 3, 31)),
        ("2028q1", date(2028, 1, 1), date(2028, 3, 31)),
        (" 2026Q4 ", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026Q2", date(2026, 4, 1), date(2026, 6, 30)),
    ],
)
def test_quarters_parse_and_bound_their_days(text: str, first: date, last: date) -> None:
    quarter = Quarter.parse(text)
    assert (quarter.first_day, quarter.last_day) == (first, last)
    assert first in quarter
    assert last in quarter
    assert last + timedelta(days=1) not in quarter
    assert "2027-01-01" not in quarter


@pytest.mark.parametrize("text", ["2027Q5", "2027Q0", "Q1 2027", "2027-Q1", "27Q1", ""])
def test_bad_quarters_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected e\.g\. 2027Q1"):
        Quarter.parse(text)


@given(st.dates(date(2000, 1, 1), date(2199, 12, 31)))
def test_every_day_is_in_the_quarter_containing_it(day: date) -> None:
    quarter = Quarter.containing(day)
    assert day in quarter
    assert Quarter.parse(str(quarter)) == quarter
