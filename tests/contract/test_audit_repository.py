"""One suite, every ``AuditRepository``: records come back as written and in order, a rolled-back
record leaves no trace, and the SQL databases refuse to change or delete a record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from sqlalchemy.exc import DBAPIError

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.audit import Actor, AuditAction, AuditChain
from llmaas.domain.secrets import Secret
from llmaas.ports.repositories import UnitOfWorkFactory
from llmaas.services.audit import AuditTrail
from tests.contract.units_of_work import Runner, run

__all__ = ["run"]

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
CHAIN = AuditChain(Secret("contract-secret"))
OPS = Actor("cli:ops", "local")


class SteppingClock:
    def __init__(self) -> None:
        self._now = T0

    def now(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now

    def monotonic(self) -> float:
        return (self._now - T0).total_seconds()


def trail_of(uow_factory: UnitOfWorkFactory) -> AuditTrail:
    return AuditTrail(uow_factory, CHAIN, SteppingClock())


def test_records_come_back_in_order_and_verify(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        trail = trail_of(uow_factory)
        for index in range(3):
            async with uow_factory() as uow:
                await trail.record(
                    uow,
                    OPS,
                    AuditAction.KEY_CREATED,
                    f"key:k{index}",
                    after={"name": f"né {index}", "limits": {"requests_per_minute": 60}},
                )
                await uow.commit()
        records = await trail.records()
        assert [r.sequence for r in records] == [1, 2, 3]
        assert records[1].entry.after == {"name": "né 1", "limits": {"requests_per_minute": 60}}
        assert records[1].entry.at == T0 + timedelta(seconds=2)
        assert [r.sequence for r in await trail.records(after=1, limit=1)] == [2]
        assert await trail.verify() == (3, [])

    run(scenario)


def test_a_rolled_back_action_leaves_no_record(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        trail = trail_of(uow_factory)
        async with uow_factory() as uow:
            await trail.record(uow, OPS, AuditAction.TIER_CREATED, "tier:gold")
            # no commit: the change failed, so must its record
        await trail.record_alone(OPS, AuditAction.LOGIN_FAILED, "console")
        records = await trail.records()
        assert [(r.sequence, r.entry.action) for r in records] == [(1, AuditAction.LOGIN_FAILED)]

    run(scenario)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"]
)
def test_the_database_refuses_to_rewrite_history(database_url: str, statement: str) -> None:
    schema.upgrade(database_url)

    async def main() -> None:
        engine = create_engine(database_url)
        try:
            uow_factory = SqlUnitOfWorkFactory(engine)
            await trail_of(uow_factory).record_alone(OPS, AuditAction.KEY_REVOKED, "key:k1")
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as connection:
                    await connection.execute(sqlalchemy.text(statement))
            assert len(await trail_of(uow_factory).records()) == 1
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_concurrent_writers_never_fork_the_chain(postgres_url: str) -> None:
    """Two gateways recording at once on PostgreSQL: the advisory lock makes one wait for the
    other, so the sequence has no duplicate and the chain verifies."""
    schema.upgrade(postgres_url)

    async def main() -> None:
        engine = create_engine(postgres_url)
        try:
            trail = trail_of(SqlUnitOfWorkFactory(engine))
            await asyncio.gather(
                *(trail.record_alone(OPS, AuditAction.KEY_UPDATED, f"key:k{i}") for i in range(20))
            )
            assert await trail.verify() == (20, [])
        finally:
            await engine.dispose()

    asyncio.run(main())
