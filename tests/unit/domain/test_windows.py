from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.windows import Window, span


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def test_fixed_windows_are_aligned_on_utc() -> None:
    moment = ts(2026, 11, 26, 9, 30, 15)
    minute = span(Window.MINUTE, moment)
    assert minute.label == str(int(ts(2026, 11, 26, 9, 30)))
    assert minute.seconds_left(moment) == 45
    assert span(Window.HOUR, moment).seconds_left(moment) == 29 * 60 + 45
    assert span(Window.DAY, moment).label == str(int(ts(2026, 11, 26)))


def test_the_month_follows_the_calendar_and_rolls_over_the_year() -> None:
    moment = ts(2026, 12, 31, 23, 59, 30)
    december = span(Window.MONTH, moment)
    assert december.label == "2026-12"
    assert december.seconds_left(moment) == 30
    assert span(Window.MONTH, ts(2027, 1, 1)).label == "2027-01"


@given(st.floats(min_value=0, max_value=4e9), st.sampled_from(list(Window)))
def test_a_counter_outlives_its_window(moment: float, window: Window) -> None:
    current = span(window, moment)
    if current.ttl_seconds is None:
        assert window is Window.FOREVER
        return
    assert 0 < current.seconds_left(moment) <= current.ttl_seconds
