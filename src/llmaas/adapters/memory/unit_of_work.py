"""A transactional in-memory store: a unit of work keeps its writes aside until ``commit`` publishes
them, and leaving without a commit drops them.

A fresh store holds what a freshly migrated database holds: the default tiers and the default
organization, so the memory adapters pass the same contract tests as SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from llmaas.adapters.memory.api_keys import MemoryApiKeyRepository
from llmaas.adapters.memory.audit import MemoryAuditRepository
from llmaas.adapters.memory.rows import WorkingRows
from llmaas.adapters.memory.tenants import (
    CreditEntry,
    MemoryOrganizationRepository,
    MemoryTierRepository,
)
from llmaas.adapters.memory.usage import MemoryUsageRepository, MemoryUsageStore
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.audit import AuditRecord
from llmaas.domain.tenants import (
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_TIER_ID,
    DEFAULT_TIERS,
    Organization,
    Tier,
)


class MemoryStore:
    def __init__(self, *, created_at: datetime | None = None) -> None:
        self.api_keys: dict[str, ApiKeyRecord] = {}
        self.tiers: dict[str, Tier] = {tier.id: tier for tier in DEFAULT_TIERS}
        self.organizations: dict[str, Organization] = {
            DEFAULT_ORGANIZATION_ID: Organization(
                DEFAULT_ORGANIZATION_ID,
                "Default organization",
                DEFAULT_TIER_ID,
                created_at or datetime.now(UTC),
            )
        }
        self.credit_ledger: list[CreditEntry] = []
        self.usage = MemoryUsageStore()
        self.audit: list[AuditRecord] = []


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._api_keys = WorkingRows(store.api_keys)
        self._tiers = WorkingRows(store.tiers)
        self._organizations = WorkingRows(store.organizations)
        self.api_keys = MemoryApiKeyRepository(self._api_keys, self._organizations)
        self.tiers = MemoryTierRepository(self._tiers)
        self.organizations = MemoryOrganizationRepository(self._organizations, self._tiers)
        self.usage = MemoryUsageRepository(store.usage)
        self.audit = MemoryAuditRepository(store.audit)

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._begin()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._begin()

    async def commit(self) -> None:
        self._api_keys.publish()
        self._tiers.publish()
        self._organizations.publish(self.organizations.merge_credit)
        self._store.credit_ledger.extend(self.organizations.ledger)
        self.usage.publish()
        self.audit.publish()
        self._begin()

    def _begin(self) -> None:
        for rows in (self._api_keys, self._tiers, self._organizations):
            rows.begin()
        self.organizations.begin()
        self.usage.begin()
        self.audit.begin()
