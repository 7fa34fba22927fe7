"""``ApiKeyRepository`` in memory."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from llmaas.adapters.memory.rows import WorkingRows
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.tenants import Organization


class MemoryApiKeyRepository:
    def __init__(
        self, rows: WorkingRows[ApiKeyRecord], organizations: WorkingRows[Organization]
    ) -> None:
        self._rows = rows
        self._organizations = organizations

    async def add(self, record: ApiKeyRecord) -> None:
        if record.id in self._rows:
            raise ValueError(f"duplicate API key id {record.id}")
        self._rows.put(record.id, self._stored(record))

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._rows.get(key_id)

    async def list(
        self, *, include_revoked: bool = False, organization_id: str | None = None
    ) -> list[ApiKeyRecord]:
        rows = sorted(self._rows.values(), key=lambda r: (r.created_at, r.id))
        return [
            r
            for r in rows
            if (include_revoked or r.revoked_at is None)
            and (organization_id is None or r.organization_id == organization_id)
        ]

    async def update(self, record: ApiKeyRecord) -> bool:
        if record.id not in self._rows:
            return False
        self._rows.put(record.id, self._stored(record))
        return True

    async def revoke(self, key_id: str, at: datetime) -> bool:
        record = self._rows.get(key_id)
        if record is None or record.revoked_at is not None:
            return False
        self._rows.put(key_id, dataclasses.replace(record, revoked_at=at))
        return True

    async def count(self) -> int:
        return len(self._rows.values())

    def _stored(self, record: ApiKeyRecord) -> ApiKeyRecord:
        """What SQL would keep: the organization must exist, and ``metadata`` is not persisted."""
        if record.organization_id not in self._organizations:
            raise ValueError(f"foreign key: no organization '{record.organization_id}'")
        return dataclasses.replace(record, metadata={})
