"""``UsageRepository`` on SQL: raw records written once, reports answered from rollups.

A batch costs two statements whatever its size: one executemany ``INSERT`` of the raw records and one
executemany upsert of the rollup rows the batch touches. The upsert increments the stored counters in
SQL (``ON CONFLICT DO UPDATE``), so several gateway instances can flush the same bucket concurrently
without losing counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from llmaas.adapters.sql.tables import (
    ROLLUP_COUNTER_COLUMNS,
    usage_records,
    usage_rollups,
)
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

_GROUP_COLUMNS: dict[GroupBy, str] = {
    GroupBy.ORGANIZATION: "organization_id",
    GroupBy.KEY: "key_id",
    GroupBy.MODEL: "model",
    GroupBy.DAY: "bucket_start",
    GroupBy.HOUR: "bucket_start",
}


class SqlUsageRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_batch(self, events: Sequence[UsageEvent]) -> None:
        if not events:
            return
        events = [_fitted(e) for e in events]
        await self._connection.execute(insert(usage_records), [_record(e) for e in events])
        # Sorted, so concurrent flushes lock rollup rows in the same order and cannot deadlock.
        folded = sorted(rollups(events).items(), key=lambda item: _sort_key(item[0]))
        await self._connection.execute(
            self._upsert(), [_rollup(key, totals) for key, totals in folded]
        )

    async def report(self, query: UsageQuery) -> list[UsageRow]:
        columns = [usage_rollups.c[name] for name in _group_column_names(query.group_by)]
        sums = [func.sum(usage_rollups.c[name]).label(name) for name in ROLLUP_COUNTER_COLUMNS]
        statement = select(*columns, *sums).where(*_report_filters(query)).group_by(*columns)
        result = await self._connection.execute(statement)
        rows = [
            UsageRow(group=_group(row, query.group_by), totals=_totals(row))
            for row in result.mappings()
            if row["requests"] is not None  # no GROUP BY and nothing matched: one row of NULLs
        ]
        # Sorted here rather than by ORDER BY: PostgreSQL's collation may order text differently.
        return sorted(rows, key=lambda row: tuple(row.group[g] for g in query.group_by))

    async def spend_totals(self, month_start: datetime) -> SpendTotals:
        day = usage_rollups.c.granularity == Granularity.DAY.value
        cost = func.sum(usage_rollups.c.cost_micros)
        org, key = usage_rollups.c.organization_id, usage_rollups.c.key_id
        month = await self._connection.execute(
            select(org, key, cost)
            .where(day, usage_rollups.c.bucket_start >= month_start)
            .group_by(org, key)
        )
        totals = SpendTotals()
        for organization_id, key_id, micros in month:
            _accumulate(totals.key_month, key_id, micros)
            _accumulate(totals.organization_month, organization_id, micros)
        all_time = await self._connection.execute(select(org, cost).where(day).group_by(org))
        for organization_id, micros in all_time:
            _accumulate(totals.organization_all_time, organization_id, micros)
        return totals

    async def count_records(self, *, since: datetime | None = None) -> int:
        statement = select(func.count()).select_from(usage_records)
        if since is not None:
            statement = statement.where(usage_records.c.occurred_at >= since)
        result = await self._connection.execute(statement)
        return int(result.scalar_one())

    def _upsert(self) -> Insert:
        """``INSERT ... ON CONFLICT DO UPDATE`` adding the new counts to the stored ones."""
        dialect = self._connection.dialect.name
        if dialect == "postgresql":
            pg_statement = postgresql.insert(usage_rollups)
            return pg_statement.on_conflict_do_update(
                index_elements=list(usage_rollups.primary_key.columns),
                set_=_increments(pg_statement.excluded),
            )
        if dialect == "sqlite":
            lite_statement = sqlite.insert(usage_rollups)
            return lite_statement.on_conflict_do_update(
                index_elements=list(usage_rollups.primary_key.columns),
                set_=_increments(lite_statement.excluded),
            )
        raise NotImplementedError(f"usage rollups need an upsert for the {dialect} dialect")


def _increments(excluded: Any) -> dict[str, ColumnElement[Any]]:
    return {name: usage_rollups.c[name] + excluded[name] for name in ROLLUP_COUNTER_COLUMNS}


def _width(column: str) -> int:
    type_ = usage_records.c[column].type
    assert isinstance(type_, String)
    assert type_.length is not None
    return type_.length


_WIDTHS = {
    name: _width(name)
    for name in ("request_id", "organization_id", "key_id", "model", "deployment", "endpoint")
}


def _fitted(event: UsageEvent) -> UsageEvent:
    """Clip ids to their columns' widths. PostgreSQL refuses an over-long value, and one refused
    row fails the whole batch, which the usage writer would then retry forever."""
    changes = {
        name: value[:width]
        for name, width in _WIDTHS.items()
        if len(value := getattr(event, name)) > width
    }
    return dataclasses.replace(event, **changes) if changes else event


def _record(event: UsageEvent) -> dict[str, Any]:
    assert event.occurred_at is not None, "metering stamps every event before it is stored"
    ttft = event.time_to_first_token_ms
    return {
        "request_id": event.request_id,
        "occurred_at": event.occurred_at,
        "organization_id": event.organization_id,
        "key_id": event.key_id,
        "model": event.model,
        "deployment": event.deployment,
        "endpoint": event.endpoint,
        "prompt_tokens": event.usage.prompt_tokens,
        "completion_tokens": event.usage.completion_tokens,
        "reasoning_tokens": event.usage.reasoning_tokens,
        "audio_ms": event.audio_ms,
        "cost_micros": event.cost_micros,
        "latency_ms": round(event.latency_ms),
        "time_to_first_token_ms": round(ttft) if ttft is not None else None,
        "outcome": event.outcome.value,
        "streamed": event.streamed,
        "batch": event.batch,
    }


def _sort_key(key: RollupKey) -> tuple[str, datetime, str, str, str]:
    return (key.granularity.value, key.bucket_start, key.organization_id, key.key_id, key.model)


def _rollup(key: RollupKey, totals: RollupTotals) -> dict[str, Any]:
    return {
        "granularity": key.granularity.value,
        "bucket_start": key.bucket_start,
        "organization_id": key.organization_id,
        "key_id": key.key_id,
        "model": key.model,
        **{name: getattr(totals, name) for name in ROLLUP_COUNTER_COLUMNS},
    }


def _group_column_names(group_by: Iterable[GroupBy]) -> list[str]:
    """Day and hour both group on ``bucket_start``: named once, the day is derived from the hour."""
    return list(dict.fromkeys(_GROUP_COLUMNS[g] for g in group_by))


def _report_filters(query: UsageQuery) -> list[ColumnElement[bool]]:
    table = usage_rollups.c
    filters = [
        table.granularity == query.granularity.value,
        table.bucket_start >= query.start,
        table.bucket_start < query.end,
    ]
    if query.organization_id is not None:
        filters.append(table.organization_id == query.organization_id)
    if query.key_id is not None:
        filters.append(table.key_id == query.key_id)
    if query.model is not None:
        filters.append(table.model == query.model)
    return filters


def _group(row: RowMapping, group_by: Iterable[GroupBy]) -> dict[str, str]:
    return {g.value: _group_value(row, g) for g in group_by}


def _group_value(row: RowMapping, group: GroupBy) -> str:
    value = row[_GROUP_COLUMNS[group]]
    if group is GroupBy.DAY:
        return bucket_start(value, Granularity.DAY).isoformat()
    if group is GroupBy.HOUR:
        return str(value.isoformat())
    return str(value)


def _totals(row: RowMapping) -> RollupTotals:
    # PostgreSQL's SUM(bigint) is NUMERIC, which asyncpg returns as Decimal.
    return RollupTotals(**{name: int(row[name]) for name in ROLLUP_COUNTER_COLUMNS})


def _accumulate(totals: dict[str, int], name: str, micros: int | Decimal) -> None:
    totals[name] = totals.get(name, 0) + int(micros)
