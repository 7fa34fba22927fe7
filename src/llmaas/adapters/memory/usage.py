"""``UsageRepository`` in memory, answering reports from rollups exactly as SQL does.

A unit of work never copies the committed usage (it only grows): it keeps its own batches aside and
reads committed and pending rollups together, so opening one stays cheap however much is stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain

from llmaas.domain.usage import UsageEvent
from llmaas.domain.usage_reports import (
    Granularity,
    GroupBy,
    RollupKey,
    RollupTotals,
    SpendTotals,
    UsageQuery,
    UsageRow,
    bucket_start,
    rollups,
)


class MemoryUsageStore:
    """The committed raw records and rollups."""

    def __init__(self) -> None:
        self.records: list[UsageEvent] = []
        self.rollups: dict[RollupKey, RollupTotals] = {}

    def publish(self, records: list[UsageEvent], pending: dict[RollupKey, RollupTotals]) -> None:
        self.records.extend(records)
        _fold(self.rollups, pending)


class MemoryUsageRepository:
    def __init__(self, store: MemoryUsageStore) -> None:
        self._store = store
        self._records: list[UsageEvent] = []
        self._rollups: dict[RollupKey, RollupTotals] = {}

    def begin(self) -> None:
        self._records = []
        self._rollups = {}

    def publish(self) -> None:
        self._store.publish(self._records, self._rollups)
        self.begin()

    async def add_batch(self, events: Sequence[UsageEvent]) -> None:
        assert all(e.occurred_at is not None for e in events), "metering stamps every event"
        self._records.extend(events)
        _fold(self._rollups, rollups(events))

    async def report(self, query: UsageQuery) -> list[UsageRow]:
        groups: dict[tuple[str, ...], RollupTotals] = {}
        for key, totals in self._all_rollups():
            if _matches(key, query):
                group = tuple(_group_value(key, g) for g in query.group_by)
                groups.setdefault(group, RollupTotals()).add(totals)
        names = [g.value for g in query.group_by]
        return [
            UsageRow(group=dict(zip(names, group, strict=True)), totals=totals)
            for group, totals in sorted(groups.items(), key=lambda item: item[0])
        ]

    async def spend_totals(self, month_start: datetime) -> SpendTotals:
        totals = SpendTotals()
        for key, rollup in self._all_rollups():
            if key.granularity is not Granularity.DAY:
                continue
            _add(totals.organization_all_time, key.organization_id, rollup.cost_micros)
            if key.bucket_start >= month_start:
                _add(totals.organization_month, key.organization_id, rollup.cost_micros)
                _add(totals.key_month, key.key_id, rollup.cost_micros)
        return totals

    async def count_records(self, *, since: datetime | None = None) -> int:
        records = chain(self._store.records, self._records)
        return sum(1 for r in records if since is None or _occurred(r) >= since)

    def _all_rollups(self) -> Iterator[tuple[RollupKey, RollupTotals]]:
        return chain(self._store.rollups.items(), self._rollups.items())


def _fold(into: dict[RollupKey, RollupTotals], rows: dict[RollupKey, RollupTotals]) -> None:
    for key, totals in rows.items():
        into.setdefault(key, RollupTotals()).add(totals)


def _matches(key: RollupKey, query: UsageQuery) -> bool:
    return (
        key.granularity is query.granularity
        and query.start <= key.bucket_start < query.end
        and query.organization_id in (None, key.organization_id)
        and query.key_id in (None, key.key_id)
        and query.model in (None, key.model)
    )


def _group_value(key: RollupKey, group: GroupBy) -> str:
    """Day and hour as ISO timestamps of the bucket start, the same strings SQL reports."""
    if group is GroupBy.DAY:
        return bucket_start(key.bucket_start, Granularity.DAY).isoformat()
    if group is GroupBy.HOUR:
        return key.bucket_start.isoformat()
    if group is GroupBy.ORGANIZATION:
        return key.organization_id
    if group is GroupBy.KEY:
        return key.key_id
    return key.model


def _add(totals: dict[str, int], name: str, micros: int) -> None:
    totals[name] = totals.get(name, 0) + micros


def _occurred(event: UsageEvent) -> datetime:
    assert event.occurred_at is not None
    return event.occurred_at
