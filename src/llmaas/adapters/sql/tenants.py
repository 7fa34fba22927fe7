"""``TierRepository`` and ``OrganizationRepository`` on SQL.

Lists are sorted in Python, not by ``ORDER BY``: PostgreSQL sorts text by the database's collation
(which may skip hyphens), and every adapter must return the same order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from llmaas.adapters.sql.columns import (
    guard_policy_from,
    limits_from,
    models_from_json,
    models_to_json,
)
from llmaas.adapters.sql.tables import credit_ledger, organizations, tiers
from llmaas.domain.locations import DataPolicy
from llmaas.domain.tenants import Organization, Tier


class SqlTierRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, tier: Tier) -> None:
        await self._connection.execute(insert(tiers).values(id=tier.id, **_tier_values(tier)))

    async def get(self, tier_id: str) -> Tier | None:
        result = await self._connection.execute(select(tiers).where(tiers.c.id == tier_id))
        row = result.mappings().first()
        return _tier(row) if row is not None else None

    async def list(self) -> list[Tier]:
        result = await self._connection.execute(select(tiers))
        return sorted((_tier(row) for row in result.mappings()), key=lambda tier: tier.id)

    async def update(self, tier: Tier) -> bool:
        result = await self._connection.execute(
            update(tiers)
            .where(tiers.c.id == tier.id)
            .values(updated_at=func.now(), **_tier_values(tier))
        )
        return bool(result.rowcount)


class SqlOrganizationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, organization: Organization) -> None:
        await self._connection.execute(
            insert(organizations).values(
                id=organization.id,
                credit_granted_micros=organization.credit_granted_micros,
                **_organization_values(organization),
            )
        )

    async def get(self, organization_id: str) -> Organization | None:
        result = await self._connection.execute(
            select(organizations).where(organizations.c.id == organization_id)
        )
        row = result.mappings().first()
        return _organization(row) if row is not None else None

    async def list(self) -> list[Organization]:
        result = await self._connection.execute(select(organizations))
        rows = (_organization(row) for row in result.mappings())
        return sorted(rows, key=lambda organization: organization.id)

    async def update(self, organization: Organization) -> bool:
        result = await self._connection.execute(
            update(organizations)
            .where(organizations.c.id == organization.id)
            .values(**_organization_values(organization))
        )
        return bool(result.rowcount)

    async def add_credit(
        self, organization_id: str, micros: int, at: datetime, note: str
    ) -> int | None:
        # The increment happens in SQL, so two concurrent purchases both count (no read-modify-write).
        result = await self._connection.execute(
            update(organizations)
            .where(organizations.c.id == organization_id)
            .values(credit_granted_micros=organizations.c.credit_granted_micros + micros)
            .returning(organizations.c.credit_granted_micros)
        )
        total = result.scalar_one_or_none()
        if total is None:
            return None
        await self._connection.execute(
            insert(credit_ledger).values(
                organization_id=organization_id, micros=micros, note=note, created_at=at
            )
        )
        return int(total)


def _tier_values(tier: Tier) -> dict[str, Any]:
    return {
        "name": tier.name,
        "description": tier.description,
        "purchase_credit_micros": tier.purchase_credit_micros,
        "allowed_models": models_to_json(tier.allowed_models),
        "guardrail_policy": tier.guardrail_policy,
        **tier.limits.as_dict(),
    }


def _tier(row: RowMapping) -> Tier:
    return Tier(
        id=row["id"],
        name=row["name"],
        limits=limits_from(row),
        purchase_credit_micros=row["purchase_credit_micros"],
        allowed_models=models_from_json(row["allowed_models"]),
        description=row["description"],
        guardrail_policy=guard_policy_from(row["guardrail_policy"]),
    )


def _organization_values(organization: Organization) -> dict[str, Any]:
    """Everything ``update`` may replace: the credit is left to ``add_credit`` and its ledger."""
    return {
        "name": organization.name,
        "tier_id": organization.tier_id,
        "allowed_models": models_to_json(organization.allowed_models),
        "data_policy": organization.data_policy.to_json(),
        "created_at": organization.created_at,
        "disabled_at": organization.disabled_at,
        "guardrail_policy": organization.guardrail_policy,
        **organization.overrides.as_dict(),
    }


def _organization(row: RowMapping) -> Organization:
    return Organization(
        id=row["id"],
        name=row["name"],
        tier_id=row["tier_id"],
        created_at=row["created_at"],
        overrides=limits_from(row),
        allowed_models=models_from_json(row["allowed_models"]),
        credit_granted_micros=int(row["credit_granted_micros"]),
        data_policy=DataPolicy.from_json(row["data_policy"]),
        disabled_at=row["disabled_at"],
        guardrail_policy=guard_policy_from(row["guardrail_policy"]),
    )
