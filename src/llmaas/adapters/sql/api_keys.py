"""``ApiKeyRepository`` on SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from llmaas.adapters.sql.tables import api_keys
from llmaas.domain.api_keys import ApiKeyRecord


class SqlApiKeyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, record: ApiKeyRecord) -> None:
        await self._connection.execute(
            insert(api_keys).values(
                id=record.id,
                name=record.name,
                key_hash=record.key_hash,
                is_admin=record.is_admin,
                allowed_models=sorted(record.allowed_models)
                if record.allowed_models is not None
                else None,
                created_at=record.created_at,
                revoked_at=record.revoked_at,
                expires_at=record.expires_at,
            )
        )

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        result = await self._connection.execute(select(api_keys).where(api_keys.c.id == key_id))
        row = result.mappings().first()
        return _record(row) if row is not None else None

    async def list(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        result = await self._connection.execute(query)
        return [_record(row) for row in result.mappings()]

    async def revoke(self, key_id: str, at: datetime) -> bool:
        result = await self._connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(result.rowcount)

    async def count(self) -> int:
        result = await self._connection.execute(select(func.count()).select_from(api_keys))
        return int(result.scalar_one())


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every datetime we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _record(row: Any) -> ApiKeyRecord:
    created_at = _utc(row["created_at"])
    assert created_at is not None
    allowed = row["allowed_models"]
    return ApiKeyRecord(
        id=row["id"],
        name=row["name"],
        key_hash=row["key_hash"],
        created_at=created_at,
        is_admin=bool(row["is_admin"]),
        allowed_models=frozenset(allowed) if allowed is not None else None,
        revoked_at=_utc(row["revoked_at"]),
        expires_at=_utc(row["expires_at"]),
    )
