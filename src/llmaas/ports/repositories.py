"""Persistence ports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.audit import AuditRecord
from llmaas.domain.tenants import Organization, Tier
from llmaas.domain.usage import UsageEvent
from llmaas.domain.usage_reports import SpendTotals, UsageQuery, UsageRow


class ApiKeyRepository(Protocol):
    async def add(self, record: ApiKeyRecord) -> None: ...

    async def get(self, key_id: str) -> ApiKeyRecord | None: ...

    async def list(
        self, *, include_revoked: bool = False, organization_id: str | None = None
    ) -> list[ApiKeyRecord]: ...

    async def update(self, record: ApiKeyRecord) -> bool:
        """Replace the stored record with the same id; ``False`` when there is none."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Mark the key revoked; ``False`` when no active key has that id."""
        ...

    async def count(self) -> int: ...


class TierRepository(Protocol):
    async def add(self, tier: Tier) -> None: ...

    async def get(self, tier_id: str) -> Tier | None: ...

    async def list(self) -> list[Tier]: ...

    async def update(self, tier: Tier) -> bool: ...


class OrganizationRepository(Protocol):
    async def add(self, organization: Organization) -> None: ...

    async def get(self, organization_id: str) -> Organization | None: ...

    async def list(self) -> list[Organization]: ...

    async def update(self, organization: Organization) -> bool:
        """Replace everything but the credit (which only :meth:`add_credit` changes)."""
        ...

    async def add_credit(
        self, organization_id: str, micros: int, at: datetime, note: str
    ) -> int | None:
        """Record a credit purchase in the ledger; returns the new all-time credit, ``None`` when
        there is no such organization."""
        ...


class UsageRepository(Protocol):
    async def add_batch(self, events: Sequence[UsageEvent]) -> None:
        """Store the raw records and fold them into the per-minute/hour/day rollups."""
        ...

    async def report(self, query: UsageQuery) -> list[UsageRow]:
        """Read from the rollups only, never the raw records."""
        ...

    async def spend_totals(self, month_start: datetime) -> SpendTotals:
        """Spend per key and organization since ``month_start``, and per organization all time."""
        ...

    async def count_records(self, *, since: datetime | None = None) -> int: ...


class AuditRepository(Protocol):
    """Append-only: records are added and read, never changed or removed."""

    async def last_for_update(self) -> AuditRecord | None:
        """The newest record, locked until the transaction ends, so that two writers cannot both
        chain onto it."""

    async def add(self, record: AuditRecord) -> None: ...

    async def list(self, *, after: int = 0, limit: int | None = None) -> list[AuditRecord]:
        """Records in sequence order, from ``after + 1``."""


class UnitOfWork(Protocol):
    """A transaction: repositories bound to it, committed only by :meth:`commit`."""

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def tiers(self) -> TierRepository: ...

    @property
    def organizations(self) -> OrganizationRepository: ...

    @property
    def usage(self) -> UsageRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Roll back whatever was not committed."""

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
