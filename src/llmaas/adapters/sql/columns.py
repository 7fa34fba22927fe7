"""Column types and value conversions shared by every SQL repository.

Two databases, one behaviour: SQLite stores datetimes as text without an offset and hands them back
naive, PostgreSQL keeps ``timestamptz``. :class:`UtcDateTime` makes both store and return aware UTC
datetimes, so no repository has to remember to normalise, and comparisons on SQLite (which compare
text) stay correct even when a caller passes a datetime in another zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.types import TypeDecorator

from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits

LIMIT_COLUMNS: tuple[str, ...] = tuple(item.name for item in fields(Limits))
"""One column per limit, named like the ``Limits`` field it stores."""


def as_utc(value: datetime) -> datetime:
    """Every datetime we store is UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always binds and returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def models_json() -> JSON:
    """A nullable allow-list: SQL ``NULL`` (every model), not the JSON text ``null``."""
    return JSON(none_as_null=True)


def limit_columns() -> list[Column[int]]:
    """Fresh columns for one table: ``NULL`` means unlimited at that level, as in ``Limits``."""
    return [Column(name, BigInteger, nullable=True) for name in LIMIT_COLUMNS]


def limits_from(row: RowMapping) -> Limits:
    return Limits(**{name: row[name] for name in LIMIT_COLUMNS})


def models_to_json(models: frozenset[str] | None) -> list[str] | None:
    """Sorted, so the stored JSON is stable and diffs between rows are meaningful."""
    return sorted(models) if models is not None else None


def models_from_json(value: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(value) if value is not None else None


def guard_policy_from(value: str | None) -> GuardPolicy | None:
    return GuardPolicy(value) if value is not None else None
