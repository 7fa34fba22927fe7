"""A model's lifecycle and the promise the platform makes about it.

A model is released (preview, then production), may be deprecated by a notice, and is retired on its
sunset date. The promise: no model is retired less than ``MINIMUM_NOTICE`` after its deprecation
notice, and every deprecated model names a replacement. The phase written in the catalog is what the
last quarterly review decided; the phase that counts at run time is the one the dates give on the day
(``Lifecycle.phase_on``), so a model whose sunset passed is refused even if nobody edited the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

MINIMUM_NOTICE = timedelta(days=90)

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


class Phase(StrEnum):
    PREVIEW = "preview"
    PRODUCTION = "production"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    phase: Phase = Phase.PRODUCTION
    released: date | None = None
    deprecation_notice: date | None = None
    """The day clients were told; the 90-day clock starts here."""
    sunset: date | None = None
    """End of support: from this day on, calls are refused (or redirected, if the operator says so)."""
    lts: bool = False
    replacement: str | None = None
    """The model clients should move to; required once a model is deprecated."""

    def phase_on(self, day: date) -> Phase:
        if self.phase is Phase.RETIRED or (self.sunset is not None and day >= self.sunset):
            return Phase.RETIRED
        notice_given = self.deprecation_notice is not None and day >= self.deprecation_notice
        if self.phase is Phase.DEPRECATED or notice_given:
            return Phase.DEPRECATED
        return self.phase

    @property
    def notice_period(self) -> timedelta | None:
        if self.deprecation_notice is None or self.sunset is None:
            return None
        return self.sunset - self.deprecation_notice


@dataclass(frozen=True, slots=True)
class Quarter:
    """A quarterly review period, written ``2027Q1``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text.strip().upper())
        if match is None:
            raise ValueError(f"'{text}' is not a quarter (expected e.g. 2027Q1)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        following = (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )
        return following.first_day - timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first_day <= day <= self.last_day

    def __str__(self) -> str:
        return f"{self.year:04d}Q{self.number}"
