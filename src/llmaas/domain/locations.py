"""Where a deployment runs, and where an organization allows its requests to go.

Sovereignty is a routing constraint, not a label: an organization that requires France and SecNumCloud
is never served by a deployment that cannot show both, even when that means answering 503.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol


def _countries(values: Iterable[str]) -> frozenset[str]:
    return frozenset(value.strip().upper() for value in values if value.strip())


def _certifications(values: Iterable[str]) -> frozenset[str]:
    # Compared case-insensitively: "SecNumCloud" and "secnumcloud" are the same qualification.
    return frozenset(value.strip().casefold() for value in values if value.strip())


@dataclass(frozen=True, slots=True)
class Location:
    country: str | None = None
    """ISO 3166-1 alpha-2 code (``FR``); ``None`` when unknown, which satisfies no requirement."""
    site: str | None = None
    operator: str | None = None
    certifications: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        country: str | None = None,
        site: str | None = None,
        operator: str | None = None,
        certifications: Iterable[str] = (),
    ) -> Location:
        return cls(
            country=country.strip().upper() if country else None,
            site=site,
            operator=operator,
            certifications=_certifications(certifications),
        )


class Located(Protocol):
    @property
    def location(self) -> Location: ...


@dataclass(frozen=True, slots=True)
class DataPolicy:
    """An organization's sovereignty requirements; empty sets mean "no requirement"."""

    countries: frozenset[str] = frozenset()
    certifications: frozenset[str] = frozenset()

    @classmethod
    def of(cls, countries: Iterable[str] = (), certifications: Iterable[str] = ()) -> DataPolicy:
        return cls(countries=_countries(countries), certifications=_certifications(certifications))

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> DataPolicy:
        value = value or {}
        return cls.of(value.get("countries") or (), value.get("certifications") or ())

    def to_json(self) -> dict[str, list[str]]:
        return {
            "countries": sorted(self.countries),
            "certifications": sorted(self.certifications),
        }

    @property
    def restricted(self) -> bool:
        return bool(self.countries or self.certifications)

    def allows(self, location: Location) -> bool:
        if self.countries and location.country not in self.countries:
            return False
        return self.certifications <= location.certifications

    def allows_deployment(self, deployment: Located) -> bool:
        return self.allows(deployment.location)

    def describe(self) -> str:
        parts = []
        if self.countries:
            parts.append("in " + " or ".join(sorted(self.countries)))
        if self.certifications:
            parts.append("certified " + " and ".join(sorted(self.certifications)))
        return ", ".join(parts) or "anywhere"


NO_POLICY = DataPolicy()
