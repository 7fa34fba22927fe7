"""The audit trail in memory: a list that only grows, for tests and the memory unit of work."""

from __future__ import annotations

from llmaas.domain.audit import AuditRecord


class MemoryAuditRepository:
    def __init__(self, committed: list[AuditRecord]) -> None:
        self._committed = committed
        self._pending: list[AuditRecord] = []

    def begin(self) -> None:
        self._pending = []

    def publish(self) -> None:
        self._committed.extend(self._pending)
        self._pending = []

    async def last_for_update(self) -> AuditRecord | None:
        records = self._committed + self._pending
        return records[-1] if records else None

    async def add(self, record: AuditRecord) -> None:
        self._pending.append(record)

    async def list(self, *, after: int = 0, limit: int | None = None) -> list[AuditRecord]:
        found = [r for r in self._committed + self._pending if r.sequence > after]
        return found if limit is None else found[:limit]
