"""One suite, every ``UsageRepository``: memory, SQLite and PostgreSQL must report the same sums.

Each test event costs a distinct power of ten, so a reported cost says exactly which events were
counted: ``1011`` is events 0, 1 and 3, nothing else.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, event, select
from sqlalchemy.types import TypeDecorator, TypeEngine

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.tables import metadata, usage_records
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.domain.usage_reports import GroupBy, RollupTotals, SpendTotals, UsageQuery, UsageRow
from llmaas.ports.repositories import UnitOfWorkFactory
from tests.contract.units_of_work import Runner, run

__all__ = ["run"]


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    month = 11 if day > 1 else 12
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def usage(
    index: int, occurred_at: datetime, organization_id: str, key_id: str, model: str, **extra: Any
) -> UsageEvent:
    cost = 10**index
    fields: dict[str, Any] = {
        "request_id": f"req-{index}",
        "key_id": key_id,
        "model": model,
        "deployment": f"{model}@node-1",
        "endpoint": "/v1/chat/completions",
        "usage": TokenUsage(
            prompt_tokens=2 * cost, completion_tokens=3 * cost, reasoning_tokens=cost
        ),
        "latency_ms": cost + 0.4,
        "outcome": Outcome.OK,
        "streamed": True,
        "organization_id": organization_id,
        "cost_micros": cost,
        "audio_ms": 5 * cost,
        "occurred_at": occurred_at,
    }
    fields.update(extra)
    return UsageEvent(**fields)


# Two minutes, two hours, two days (and two months), two organizations, three keys, two models.
EVENTS = (
    usage(0, at(30, 22, 59, 10), "default", "k1", "m1"),
    usage(1, at(30, 22, 59, 50), "default", "k1", "m2", time_to_first_token_ms=12.5),
    usage(2, at(30, 23, 0, 5), "acme", "k2", "m1", outcome=Outcome.CLIENT_DISCONNECTED),
    usage(3, at(30, 23, 30), "acme", "k3", "m1", outcome=Outcome.FAILED, streamed=False),
    usage(4, at(1, 0, 0, 30), "acme", "k2", "m2", batch=True),
    usage(5, at(1, 9, 15), "default", "k1", "m1"),
)
EVERYTHING = (at(1, 0, 0).replace(month=1), at(1, 0, 0).replace(year=2027))
DAY_30 = "2026-11-30T00:00:00+00:00"
DAY_1 = "2026-12-01T00:00:00+00:00"


def totals_for(cost: int, requests: int, failed: int = 0) -> RollupTotals:
    """What the events whose costs add up to ``cost`` sum to (see ``usage``)."""
    return RollupTotals(
        requests=requests,
        failed_requests=failed,
        prompt_tokens=2 * cost,
        completion_tokens=3 * cost,
        reasoning_tokens=cost,
        audio_ms=5 * cost,
        cost_micros=cost,
        latency_ms_total=cost,
    )


def query(*group_by: GroupBy, **filters: Any) -> UsageQuery:
    start, end = filters.pop("window", EVERYTHING)
    return UsageQuery(start=start, end=end, group_by=group_by, **filters)


def costs(rows: list[UsageRow]) -> list[tuple[tuple[str, ...], int]]:
    return [(tuple(row.group.values()), row.totals.cost_micros) for row in rows]


async def _store(uow_factory: UnitOfWorkFactory, *batches: tuple[UsageEvent, ...]) -> None:
    for batch in batches:
        async with uow_factory() as uow:
            await uow.usage.add_batch(batch)
            await uow.commit()


async def _report(uow_factory: UnitOfWorkFactory, usage_query: UsageQuery) -> list[UsageRow]:
    async with uow_factory() as uow:
        return await uow.usage.report(usage_query)


def test_report_by_key_sums_every_counter(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _store(uow_factory, EVENTS)
        rows = await _report(uow_factory, query(GroupBy.KEY))
        assert rows == [
            UsageRow({"key": "k1"}, totals_for(100_011, 3)),
            UsageRow({"key": "k2"}, totals_for(10_100, 2)),
            UsageRow({"key": "k3"}, totals_for(1_000, 1, failed=1)),
        ]

    run(scenario)


def test_report_groups_and_filters(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _store(uow_factory, EVENTS)
        report = {
            name: costs(await _report(uow_factory, usage_query))
            for name, usage_query in {
                "model in acme": query(GroupBy.MODEL, organization_id="acme"),
                "key for m2": query(GroupBy.KEY, model="m2"),
                "day": query(GroupBy.DAY),
                "hour for k1": query(GroupBy.HOUR, key_id="k1"),
                "org, key, model": query(GroupBy.ORGANIZATION, GroupBy.KEY, GroupBy.MODEL),
                "day and hour": query(GroupBy.DAY, GroupBy.HOUR),
                "unknown key": query(GroupBy.DAY, key_id="k9"),
            }.items()
        }
        assert report == {
            "model in acme": [(("m1",), 1_100), (("m2",), 10_000)],
            "key for m2": [(("k1",), 10), (("k2",), 10_000)],
            "day": [((DAY_30,), 1_111), ((DAY_1,), 110_000)],
            "hour for k1": [
                (("2026-11-30T22:00:00+00:00",), 11),
                (("2026-12-01T09:00:00+00:00",), 100_000),
            ],
            "org, key, model": [
                (("acme", "k2", "m1"), 100),
                (("acme", "k2", "m2"), 10_000),
                (("acme", "k3", "m1"), 1_000),
                (("default", "k1", "m1"), 100_001),
                (("default", "k1", "m2"), 10),
            ],
            "day and hour": [
                ((DAY_30, "2026-11-30T22:00:00+00:00"), 11),
                ((DAY_30, "2026-11-30T23:00:00+00:00"), 1_100),
                ((DAY_1, "2026-12-01T00:00:00+00:00"), 10_000),
                ((DAY_1, "2026-12-01T09:00:00+00:00"), 100_000),
            ],
            "unknown key": [],
        }

    run(scenario)


def test_report_windows_are_half_open_on_bucket_starts(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _store(uow_factory, EVENTS)
        hour_23 = query(GroupBy.HOUR, window=(at(30, 23, 0), at(1, 0, 0)))
        day_30 = query(GroupBy.DAY, window=(at(30, 0, 0), at(1, 0, 0)))
        # A start inside a bucket excludes that bucket: reports are made of whole buckets.
        mid_day = query(GroupBy.DAY, window=(at(30, 12, 0), at(1, 0, 1)))
        assert costs(await _report(uow_factory, hour_23)) == [
            (("2026-11-30T23:00:00+00:00",), 1_100)
        ]
        assert costs(await _report(uow_factory, day_30)) == [((DAY_30,), 1_111)]
        assert costs(await _report(uow_factory, mid_day)) == [((DAY_1,), 110_000)]

    run(scenario)


def test_report_without_grouping_is_one_total_or_nothing(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        assert await _report(uow_factory, query()) == []
        await _store(uow_factory, EVENTS)
        assert await _report(uow_factory, query()) == [UsageRow({}, totals_for(111_111, 6, 1))]
        assert await _report(uow_factory, query(organization_id="nobody")) == []

    run(scenario)


def test_batches_for_the_same_buckets_accumulate(run: Runner) -> None:
    again = dataclasses.replace(EVENTS[0], request_id="req-again", occurred_at=at(30, 22, 59, 59))

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _store(uow_factory, EVENTS[:2], EVENTS[2:4], EVENTS[4:], (again,))
        by_key = await _report(uow_factory, query(GroupBy.KEY))
        by_hour = await _report(uow_factory, query(GroupBy.HOUR, key_id="k1"))
        assert by_key[0] == UsageRow({"key": "k1"}, totals_for(100_012, 4))
        assert costs(by_key[1:]) == [(("k2",), 10_100), (("k3",), 1_000)]
        assert costs(by_hour) == [
            (("2026-11-30T22:00:00+00:00",), 12),
            (("2026-12-01T09:00:00+00:00",), 100_000),
        ]

    run(scenario)


def test_a_unit_of_work_reads_its_own_usage_and_only_commit_keeps_it(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _store(uow_factory, EVENTS[:1])
        async with uow_factory() as uow:
            await uow.usage.add_batch(EVENTS[1:])
            await uow.usage.add_batch(())
            assert await uow.usage.count_records() == 6
            assert costs(await uow.usage.report(query())) == [((), 111_111)]
        async with uow_factory() as uow:
            assert await uow.usage.count_records() == 1
            assert costs(await uow.usage.report(query())) == [((), 1)]

    run(scenario)


def test_spend_totals(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        async with uow_factory() as uow:
            assert await uow.usage.spend_totals(at(1, 0, 0)) == SpendTotals()
        await _store(uow_factory, EVENTS)
        async with uow_factory() as uow:
            december = await uow.usage.spend_totals(at(1, 0, 0))
            november = await uow.usage.spend_totals(at(1, 0, 0).replace(month=11))
        assert december == SpendTotals(
            key_month={"k1": 100_000, "k2": 10_000},
            organization_month={"default": 100_000, "acme": 10_000},
            organization_all_time={"default": 100_011, "acme": 11_100},
        )
        assert november == SpendTotals(
            key_month={"k1": 100_011, "k2": 10_100, "k3": 1_000},
            organization_month={"default": 100_011, "acme": 11_100},
            organization_all_time={"default": 100_011, "acme": 11_100},
        )

    run(scenario)


def test_count_records(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _store(uow_factory, EVENTS[:3], EVENTS[3:])
        async with uow_factory() as uow:
            assert await uow.usage.count_records() == 6
            assert await uow.usage.count_records(since=at(30, 23, 0, 5)) == 4
            assert await uow.usage.count_records(since=at(1, 0, 0)) == 2
            assert await uow.usage.count_records(since=at(1, 9, 15, 1)) == 0

    run(scenario)


def test_a_batch_is_a_handful_of_statements_and_records_are_stored_as_is(
    database_url: str,
) -> None:
    """500 events must not cost 500 round trips; the raw row keeps the metadata, rounded."""
    schema.upgrade(database_url)
    events = [
        dataclasses.replace(
            EVENTS[i % len(EVENTS)],
            request_id=f"req-{i}",
            latency_ms=12.7,
            time_to_first_token_ms=4.2 if i else None,
        )
        for i in range(500)
    ]

    async def main() -> tuple[int, list[Any]]:
        engine = create_engine(database_url)
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        try:
            async with SqlUnitOfWorkFactory(engine)() as uow:
                event.listen(engine.sync_engine, "before_cursor_execute", count)
                await uow.usage.add_batch(events)
                event.remove(engine.sync_engine, "before_cursor_execute", count)
                await uow.commit()
                rows = await uow.usage.count_records()
                assert rows == 500
            async with engine.connect() as connection:
                result = await connection.execute(
                    select(usage_records).where(usage_records.c.request_id.in_(["req-0", "req-1"]))
                )
                return len(statements), sorted(result.mappings(), key=lambda r: r["request_id"])
        finally:
            await engine.dispose()

    statement_count, stored = asyncio.run(main())
    assert statement_count == 2
    first, second = ({k: v for k, v in row.items() if k != "id"} for row in stored)
    assert first == {
        "request_id": "req-0",
        "occurred_at": EVENTS[0].occurred_at,
        "organization_id": "default",
        "key_id": "k1",
        "model": "m1",
        "deployment": "m1@node-1",
        "endpoint": "/v1/chat/completions",
        "prompt_tokens": 2,
        "completion_tokens": 3,
        "reasoning_tokens": 1,
        "audio_ms": 5,
        "cost_micros": 1,
        "latency_ms": 13,
        "time_to_first_token_ms": None,
        "outcome": "ok",
        "streamed": True,
        "batch": False,
    }
    assert (second["time_to_first_token_ms"], second["model"]) == (4, "m2")


def test_over_long_ids_are_clipped_rather_than_failing_the_batch(database_url: str) -> None:
    """PostgreSQL refuses strings longer than their column, and a failed batch would be retried
    forever: the repository clips ids instead (SQLite would store them whole otherwise)."""
    schema.upgrade(database_url)
    long = dataclasses.replace(
        EVENTS[0], request_id="r" * 300, model="m" * 300, deployment="d" * 300, key_id="k" * 70
    )

    async def main() -> tuple[list[UsageRow], list[Any]]:
        engine = create_engine(database_url)
        try:
            uow_factory = SqlUnitOfWorkFactory(engine)
            await _store(uow_factory, (long, EVENTS[1]))
            rows = await _report(uow_factory, query(GroupBy.KEY, GroupBy.MODEL))
            async with engine.connect() as connection:
                ids = await connection.execute(select(usage_records.c.request_id))
                return rows, list(ids.scalars())
        finally:
            await engine.dispose()

    rows, request_ids = asyncio.run(main())
    assert costs(rows) == [(("k1", "m2"), 10), (("k" * 64, "m" * 200), 1)]
    assert sorted(request_ids) == ["req-1", "r" * 128]


ALLOWED_JSON = {
    ("tiers", "allowed_models"),
    ("organizations", "allowed_models"),
    ("organizations", "data_policy"),
    ("api_keys", "allowed_models"),
    ("audit_events", "before"),
    ("audit_events", "after"),
}
"""Configuration (and the audit trail's summaries of it), never request content; usage tables have
no JSON at all."""


def _base_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def test_no_column_can_hold_prompt_or_response_text() -> None:
    for table in metadata.tables.values():
        for column in table.columns:
            where = f"{table.name}.{column.name}"
            type_ = _base_type(column.type)
            if isinstance(type_, JSON):
                assert (table.name, column.name) in ALLOWED_JSON, where
            elif isinstance(type_, String):
                assert not isinstance(type_, Text), where
                assert type_.length is not None, where
                assert type_.length <= 200, where
            else:
                assert isinstance(type_, Integer | Boolean | DateTime), where


def test_money_is_integer_micros() -> None:
    money = [
        column
        for table in metadata.tables.values()
        for column in table.columns
        if "micros" in column.name
    ]
    assert len(money) >= 6
    for column in money:
        assert column.type.python_type is int, f"{column.table.name}.{column.name}"
        assert _base_type(column.type).__class__.__name__ == "BigInteger", column.name
