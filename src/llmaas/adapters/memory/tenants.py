"""``TierRepository`` and ``OrganizationRepository`` in memory, with SQL's foreign keys."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from llmaas.adapters.memory.rows import WorkingRows
from llmaas.domain.tenants import Organization, Tier


@dataclass(frozen=True, slots=True)
class CreditEntry:
    """One line of the credit ledger (the SQL ``credit_ledger`` table)."""

    organization_id: str
    micros: int
    at: datetime
    note: str


class MemoryTierRepository:
    def __init__(self, rows: WorkingRows[Tier]) -> None:
        self._rows = rows

    async def add(self, tier: Tier) -> None:
        if tier.id in self._rows:
            raise ValueError(f"duplicate tier id {tier.id}")
        self._rows.put(tier.id, tier)

    async def get(self, tier_id: str) -> Tier | None:
        return self._rows.get(tier_id)

    async def list(self) -> list[Tier]:
        return sorted(self._rows.values(), key=lambda tier: tier.id)

    async def update(self, tier: Tier) -> bool:
        if tier.id not in self._rows:
            return False
        self._rows.put(tier.id, tier)
        return True


class MemoryOrganizationRepository:
    def __init__(self, rows: WorkingRows[Organization], tiers: WorkingRows[Tier]) -> None:
        self._rows = rows
        self._tiers = tiers
        self.ledger: list[CreditEntry] = []
        """Entries written in this transaction, appended to the store's ledger on commit."""
        self.credit_added: dict[str, int] = {}

    def begin(self) -> None:
        self.ledger = []
        self.credit_added = {}

    async def add(self, organization: Organization) -> None:
        if organization.id in self._rows:
            raise ValueError(f"duplicate organization id {organization.id}")
        self._check_tier(organization)
        self._rows.put(organization.id, organization)

    async def get(self, organization_id: str) -> Organization | None:
        return self._rows.get(organization_id)

    async def list(self) -> list[Organization]:
        return sorted(self._rows.values(), key=lambda organization: organization.id)

    async def update(self, organization: Organization) -> bool:
        current = self._rows.get(organization.id)
        if current is None:
            return False
        self._check_tier(organization)
        credit = current.credit_granted_micros
        self._rows.put(
            organization.id, dataclasses.replace(organization, credit_granted_micros=credit)
        )
        return True

    async def add_credit(
        self, organization_id: str, micros: int, at: datetime, note: str
    ) -> int | None:
        current = self._rows.get(organization_id)
        if current is None:
            return None
        total = current.credit_granted_micros + micros
        self._rows.put(organization_id, dataclasses.replace(current, credit_granted_micros=total))
        self.credit_added[organization_id] = self.credit_added.get(organization_id, 0) + micros
        self.ledger.append(CreditEntry(organization_id, micros, at, note))
        return total

    def merge_credit(self, row: Organization, committed: Organization | None) -> Organization:
        """Like SQL's ``credit = credit + :micros``: add to what is committed *now*, so a
        purchase committed meanwhile by another unit of work is not overwritten."""
        if committed is None:
            return row
        credit = committed.credit_granted_micros + self.credit_added.get(row.id, 0)
        return dataclasses.replace(row, credit_granted_micros=credit)

    def _check_tier(self, organization: Organization) -> None:
        if organization.tier_id not in self._tiers:
            raise ValueError(f"foreign key: no tier '{organization.tier_id}'")
