"""``ApiKeyRepository`` on SQL.

``ApiKeyRecord.metadata`` is deliberately not persisted: it is request-time context, and a free-form
column would be the one place content could leak into the database.
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
from llmaas.adapters.sql.tables import api_keys
from llmaas.domain.api_keys import ApiKeyRecord


class SqlApiKeyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, record: ApiKeyRecord) -> None:
        await self._connection.execute(insert(api_keys).values(id=record.id, **_values(record)))

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        result = await self._connection.execute(select(api_keys).where(api_keys.c.id == key_id))
        row = result.mappings().first()
        return _record(row) if row is not None else None

    async def list(
        self, *, include_revoked: bool = False, organization_id: str | None = None
    ) -> list[ApiKeyRecord]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        if organization_id is not None:
            query = query.where(api_keys.c.organization_id == organization_id)
        result = await self._connection.execute(query)
        return [_record(row) for row in result.mappings()]

    async def update(self, record: ApiKeyRecord) -> bool:
        result = await self._connection.execute(
            update(api_keys).where(api_keys.c.id == record.id).values(**_values(record))
        )
        return bool(result.rowcount)

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


def _values(record: ApiKeyRecord) -> dict[str, Any]:
    """Every stored column but the id: what ``add`` inserts and ``update`` replaces."""
    return {
        "name": record.name,
        "key_hash": record.key_hash,
        "is_admin": record.is_admin,
        "allowed_models": models_to_json(record.allowed_models),
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
        "expires_at": record.expires_at,
        "organization_id": record.organization_id,
        "previous_key_hash": record.previous_key_hash,
        "previous_valid_until": record.previous_valid_until,
        "guardrail_policy": record.guardrail_policy,
        **record.limits.as_dict(),
    }


def _record(row: RowMapping) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row["id"],
        name=row["name"],
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        is_admin=bool(row["is_admin"]),
        allowed_models=models_from_json(row["allowed_models"]),
        revoked_at=row["revoked_at"],
        expires_at=row["expires_at"],
        organization_id=row["organization_id"],
        limits=limits_from(row),
        previous_key_hash=row["previous_key_hash"],
        previous_valid_until=row["previous_valid_until"],
        guardrail_policy=guard_policy_from(row["guardrail_policy"]),
    )
