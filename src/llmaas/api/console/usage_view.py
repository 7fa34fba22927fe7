"""The usage page's figures: a day-by-day chart of tokens by type, and tables by model and by key.

Charts are SVG drawn on the server (bars are rectangles with computed heights), so the page needs no
chart library, no CDN and no script, and prints as it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from llmaas.domain.usage_reports import RollupTotals, UsageRow

CHART_HEIGHT = 160
BAR_GAP = 2


@dataclass(frozen=True, slots=True)
class Bar:
    """One day's stacked bar: input, output and reasoning tokens, bottom to top."""

    day: date
    x: float
    width: float
    segments: tuple[tuple[str, float, float], ...]
    """(token type, y, height) in chart units."""
    totals: RollupTotals


@dataclass(frozen=True, slots=True)
class UsageLine:
    label: str
    totals: RollupTotals

    @property
    def output_tokens(self) -> int:
        return self.totals.completion_tokens - self.totals.reasoning_tokens


@dataclass(frozen=True, slots=True)
class UsageView:
    start: date
    days: int
    bars: tuple[Bar, ...]
    peak_tokens: int
    by_model: tuple[UsageLine, ...]
    by_key: tuple[UsageLine, ...]
    total: RollupTotals
    chart_width: int

    @classmethod
    def build(
        cls,
        start: date,
        days: int,
        *,
        by_day: Sequence[UsageRow],
        by_model: Sequence[UsageRow],
        by_key: Sequence[UsageRow],
        key_names: Mapping[str, str],
    ) -> UsageView:
        daily = {_day(row.group["day"]): row.totals for row in by_day}
        series = [daily.get(start + timedelta(days=i), RollupTotals()) for i in range(days)]
        peak = max((_tokens(t) for t in series), default=0)
        width = max(days * 12, 240)
        slot = width / days
        bars = tuple(
            _bar(start + timedelta(days=i), i * slot, slot - BAR_GAP, totals, peak)
            for i, totals in enumerate(series)
        )
        total = RollupTotals()
        for totals in series:
            total.add(totals)
        return cls(
            start=start,
            days=days,
            bars=bars,
            peak_tokens=peak,
            by_model=_lines(by_model, "model", {}),
            by_key=_lines(by_key, "key", key_names),
            total=total,
            chart_width=width,
        )


def _day(value: str) -> date:
    return datetime.fromisoformat(value).date()


def _tokens(totals: RollupTotals) -> int:
    return totals.prompt_tokens + totals.completion_tokens


def _bar(day: date, x: float, width: float, totals: RollupTotals, peak: int) -> Bar:
    scale = CHART_HEIGHT / peak if peak else 0.0
    parts = (
        ("input", totals.prompt_tokens),
        ("output", totals.completion_tokens - totals.reasoning_tokens),
        ("reasoning", totals.reasoning_tokens),
    )
    segments: list[tuple[str, float, float]] = []
    top = float(CHART_HEIGHT)
    for name, tokens in parts:
        height = tokens * scale
        top -= height
        segments.append((name, round(top, 2), round(height, 2)))
    return Bar(day, round(x, 2), round(max(width, 1.0), 2), tuple(segments), totals)


def _lines(rows: Sequence[UsageRow], field: str, names: Mapping[str, str]) -> tuple[UsageLine, ...]:
    lines = [
        UsageLine(_label(row.group.get(field, ""), names), row.totals)
        for row in rows
        if row.totals.requests
    ]
    return tuple(sorted(lines, key=lambda line: (-line.totals.cost_micros, line.label)))


def _label(value: str, names: Mapping[str, str]) -> str:
    name = names.get(value)
    return f"{name} ({value})" if name else value
