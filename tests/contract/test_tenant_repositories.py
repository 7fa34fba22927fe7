"""One suite, every ``TierRepository`` and ``OrganizationRepository``: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.tables import credit_ledger
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.limits import Limits
from llmaas.domain.locations import DataPolicy
from llmaas.domain.tenants import (
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_TIER_ID,
    DEFAULT_TIERS,
    Organization,
    Tier,
)
from llmaas.ports.repositories import UnitOfWorkFactory
from tests.contract.units_of_work import Runner, run

__all__ = ["run"]

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

GOLD = Tier(
    "gold",
    "Gold",
    Limits(requests_per_minute=600, output_tokens_per_day=20_000_000),
    purchase_credit_micros=25_000_000_000,
    allowed_models=frozenset({"m1", "m2"}),
    description="For the big ones.",
)

ACME = Organization(
    "acme",
    "ACME Corp",
    "tier-2",
    T0,
    overrides=Limits(monthly_budget_micros=50_000_000_000, max_concurrent_requests=8),
    allowed_models=frozenset({"m1"}),
    data_policy=DataPolicy.of(["fr"], ["SecNumCloud"]),
)


async def _add_tier(uow_factory: UnitOfWorkFactory, tier: Tier) -> None:
    async with uow_factory() as uow:
        await uow.tiers.add(tier)
        await uow.commit()


async def _add_organization(uow_factory: UnitOfWorkFactory, organization: Organization) -> None:
    async with uow_factory() as uow:
        await uow.organizations.add(organization)
        await uow.commit()


async def _update_organization(uow_factory: UnitOfWorkFactory, organization: Organization) -> None:
    async with uow_factory() as uow:
        await uow.organizations.update(organization)
        await uow.commit()


def test_a_fresh_store_holds_the_default_tiers_and_organization(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        async with uow_factory() as uow:
            tiers = await uow.tiers.list()
            organizations = await uow.organizations.list()
        assert tiers == sorted(DEFAULT_TIERS, key=lambda tier: tier.id)
        [default] = organizations
        assert default.id == DEFAULT_ORGANIZATION_ID
        assert default.name == "Default organization"
        assert default.tier_id == DEFAULT_TIER_ID
        assert default.overrides == Limits()
        assert default.allowed_models is None
        assert default.credit_granted_micros == 0
        assert default.data_policy == DataPolicy()
        assert default.disabled_at is None
        assert default.created_at.tzinfo is not None

    run(scenario)


def test_tiers_round_trip_and_update(run: Runner) -> None:
    changed = dataclasses.replace(
        GOLD, name="Gold+", limits=Limits(tokens_per_minute=5), allowed_models=None
    )

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_tier(uow_factory, GOLD)
        async with uow_factory() as uow:
            assert await uow.tiers.get("gold") == GOLD
            assert await uow.tiers.get("nope") is None
            assert await uow.tiers.update(changed) is True
            assert await uow.tiers.update(dataclasses.replace(GOLD, id="nope")) is False
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.tiers.get("gold") == changed
            assert [t.id for t in await uow.tiers.list()] == sorted(
                [t.id for t in DEFAULT_TIERS] + ["gold"]
            )

    run(scenario)


def test_duplicate_tiers_and_organizations_are_rejected(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
            await _add_tier(uow_factory, dataclasses.replace(GOLD, id="tier-1"))
        with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
            await _add_organization(
                uow_factory, dataclasses.replace(ACME, id=DEFAULT_ORGANIZATION_ID)
            )
        async with uow_factory() as uow:
            assert await uow.tiers.get("tier-1") in DEFAULT_TIERS
            assert len(await uow.organizations.list()) == 1

    run(scenario)


def test_organizations_round_trip_every_field(run: Runner) -> None:
    disabled = dataclasses.replace(
        ACME, id="gone", name="Gone Ltd", disabled_at=T0 + timedelta(days=3)
    )

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, ACME)
        await _add_organization(uow_factory, disabled)
        async with uow_factory() as uow:
            assert await uow.organizations.get("acme") == ACME
            assert await uow.organizations.get("gone") == disabled
            assert await uow.organizations.get("nope") is None
            ids = [o.id for o in await uow.organizations.list()]
        assert ids == ["acme", DEFAULT_ORGANIZATION_ID, "gone"]

    run(scenario)


def test_an_organization_needs_an_existing_tier(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await _add_organization(uow_factory, dataclasses.replace(ACME, tier_id="nope"))
        await _add_organization(uow_factory, ACME)
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await _update_organization(uow_factory, dataclasses.replace(ACME, tier_id="nope"))
        async with uow_factory() as uow:
            assert await uow.organizations.get("acme") == ACME

    run(scenario)


def test_update_replaces_everything_but_the_credit(run: Runner) -> None:
    changed = dataclasses.replace(
        ACME,
        name="ACME Inc",
        tier_id="tier-4",
        overrides=Limits(),
        allowed_models=None,
        data_policy=DataPolicy(),
        disabled_at=T0,
        credit_granted_micros=999,
    )

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, ACME)
        async with uow_factory() as uow:
            assert await uow.organizations.add_credit("acme", 200_000_000, T0, "purchase") == (
                200_000_000
            )
            assert await uow.organizations.update(changed) is True
            assert await uow.organizations.update(dataclasses.replace(ACME, id="nope")) is False
            await uow.commit()
        async with uow_factory() as uow:
            stored = await uow.organizations.get("acme")
        assert stored == dataclasses.replace(changed, credit_granted_micros=200_000_000)

    run(scenario)


def test_credit_accumulates_and_needs_a_commit(run: Runner) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, ACME)
        async with uow_factory() as uow:
            assert await uow.organizations.add_credit("acme", 500_000_000, T0, "first") == (
                500_000_000
            )
            assert await uow.organizations.add_credit("acme", 1, T0, "second") == 500_000_001
            assert await uow.organizations.add_credit("nope", 1, T0, "lost") is None
            await uow.commit()
        async with uow_factory() as uow:
            assert await uow.organizations.add_credit("acme", 7, T0, "rolled back") == 500_000_008
        async with uow_factory() as uow:
            stored = await uow.organizations.get("acme")
        assert stored is not None
        assert stored.credit_granted_micros == 500_000_001

    run(scenario)


def test_concurrent_credit_purchases_both_count(run: Runner) -> None:
    """Two units of work open at once: the increment is applied to the committed value."""

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add_organization(uow_factory, ACME)
        async with uow_factory() as first:
            await first.organizations.add_credit("acme", 100, T0, "first")
            await first.commit()
        async with uow_factory() as second, uow_factory() as third:
            await second.organizations.add_credit("acme", 10, T0, "second")
            await second.commit()
            await third.organizations.update(dataclasses.replace(ACME, name="renamed"))
            await third.commit()
        async with uow_factory() as uow:
            stored = await uow.organizations.get("acme")
        assert stored is not None
        assert (stored.name, stored.credit_granted_micros) == ("renamed", 110)

    run(scenario)


def test_add_credit_writes_one_ledger_row_per_purchase(database_url: str) -> None:
    """The ledger has no read port yet: check the SQL rows directly."""
    schema.upgrade(database_url)

    async def main() -> list[tuple[str, int, str, datetime]]:
        engine = create_engine(database_url)
        try:
            uow_factory = SqlUnitOfWorkFactory(engine)
            await _add_organization(uow_factory, ACME)
            async with uow_factory() as uow:
                await uow.organizations.add_credit("acme", 3, T0, "first")
                await uow.organizations.add_credit("acme", 4, T0 + timedelta(days=1), "second")
                await uow.organizations.add_credit("nope", 5, T0, "no such organization")
                await uow.commit()
            async with engine.connect() as connection:
                columns = credit_ledger.c
                rows = await connection.execute(
                    select(
                        columns.organization_id, columns.micros, columns.note, columns.created_at
                    ).order_by(columns.id)
                )
                count = await connection.scalar(select(func.count()).select_from(credit_ledger))
                assert count == 2
                return [tuple(row) for row in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == [
        ("acme", 3, "first", T0),
        ("acme", 4, "second", T0 + timedelta(days=1)),
    ]
