"""Counting windows: which counter a request charges, and when that counter starts afresh.

Windows are fixed and aligned on UTC (a minute starts at second 0, a month on the 1st), so every
gateway instance computes the same counter names from its own clock, with no coordination; the
monthly budget follows the calendar month that invoices use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

_MARGIN_SECONDS = 120
"""Counters outlive their window a little, so a late settlement still finds its counter."""


class Window(Enum):
    MINUTE = 60
    HOUR = 3_600
    DAY = 86_400
    MONTH = 0
    FOREVER = -1


@dataclass(frozen=True, slots=True)
class WindowSpan:
    label: str
    """What goes into the counter's name: the window's start (epoch seconds, or ``YYYY-MM``)."""
    ends_at: float
    """Epoch seconds at which the next window starts (``inf`` for ``FOREVER``)."""
    ttl_seconds: int | None

    def seconds_left(self, epoch_seconds: float) -> float:
        return self.ends_at - epoch_seconds


def span(window: Window, epoch_seconds: float) -> WindowSpan:
    if window is Window.FOREVER:
        return WindowSpan("all", float("inf"), None)
    if window is Window.MONTH:
        return _month_span(epoch_seconds)
    length = window.value
    start = int(epoch_seconds // length) * length
    return WindowSpan(str(start), start + length, length + _MARGIN_SECONDS)


def _month_span(epoch_seconds: float) -> WindowSpan:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    if moment.month == 12:
        following = datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    else:
        following = datetime(moment.year, moment.month + 1, 1, tzinfo=UTC)
    # Alive until the month is over, whenever in the month the counter was created.
    return WindowSpan(f"{moment.year:04d}-{moment.month:02d}", following.timestamp(), 32 * 86_400)
