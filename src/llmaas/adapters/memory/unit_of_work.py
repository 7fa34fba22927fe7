"""A transactional in-memory store: work happens on a copy that ``commit`` publishes."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from llmaas.domain.api_keys import ApiKeyRecord


class MemoryStore:
    def __init__(self) -> None:
        self.api_keys: dict[str, ApiKeyRecord] = {}


class MemoryApiKeyRepository:
    def __init__(self, rows: dict[str, ApiKeyRecord]) -> None:
        self._rows = rows

    async def add(self, record: ApiKeyRecord) -> None:
        if record.id in self._rows:
            raise ValueError(f"duplicate API key id {record.id}")
        self._rows[record.id] = record

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._rows.get(key_id)

    async def list(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        rows = sorted(self._rows.values(), key=lambda r: (r.created_at, r.id))
        return [r for r in rows if include_revoked or r.revoked_at is None]

    async def revoke(self, key_id: str, at: datetime) -> bool:
        record = self._rows.get(key_id)
        if record is None or record.revoked_at is not None:
            return False
        self._rows[key_id] = dataclasses.replace(record, revoked_at=at)
        return True

    async def count(self) -> int:
        return len(self._rows)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._working: dict[str, ApiKeyRecord] = {}
        self.api_keys = MemoryApiKeyRepository(self._working)

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._working.clear()
        self._working.update(self._store.api_keys)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._working.clear()

    async def commit(self) -> None:
        self._store.api_keys = dict(self._working)
