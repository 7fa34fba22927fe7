"""``AuditRepository`` on SQL.

Two gateways recording at once must not both chain onto the same record: on PostgreSQL a transaction
takes an advisory lock before reading the newest record (held until it commits); SQLite serialises
writers itself, and a writer that lost the race fails on the primary key instead of forking the chain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from llmaas.adapters.sql.tables import audit_events
from llmaas.domain.audit import AuditAction, AuditEntry, AuditRecord

ADVISORY_LOCK = 0x6C6C6D61_61756474  # "llmaaudt": one lock id for the whole trail


class SqlAuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def last_for_update(self) -> AuditRecord | None:
        if self._connection.dialect.name == "postgresql":
            await self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": ADVISORY_LOCK}
            )
        result = await self._connection.execute(
            select(audit_events).order_by(audit_events.c.sequence.desc()).limit(1)
        )
        row = result.mappings().first()
        return _record(row) if row is not None else None

    async def add(self, record: AuditRecord) -> None:
        entry = record.entry
        await self._connection.execute(
            insert(audit_events).values(
                sequence=record.sequence,
                at=entry.at,
                actor=entry.actor,
                action=str(entry.action),
                target=entry.target,
                source=entry.source,
                before=dict(entry.before),
                after=dict(entry.after),
                previous_hash=record.previous_hash,
                hash=record.hash,
            )
        )

    async def list(self, *, after: int = 0, limit: int | None = None) -> list[AuditRecord]:
        query = (
            select(audit_events)
            .where(audit_events.c.sequence > after)
            .order_by(audit_events.c.sequence)
        )
        if limit is not None:
            query = query.limit(limit)
        result = await self._connection.execute(query)
        return [_record(row) for row in result.mappings()]


def _record(row: RowMapping) -> AuditRecord:
    entry = AuditEntry(
        at=row["at"],
        actor=row["actor"],
        action=AuditAction(row["action"]),
        target=row["target"],
        source=row["source"],
        before=_mapping(row["before"]),
        after=_mapping(row["after"]),
    )
    return AuditRecord(row["sequence"], entry, row["previous_hash"], row["hash"])


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}
