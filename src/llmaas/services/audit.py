"""Recording administrative actions in the audit trail, and checking it.

An action and its record commit in the same transaction: there is no change without its record, and
no record of a change that was rolled back. Summaries name what changed (names, limits, models, dates,
prices) and never hold a secret: a key's hash is not a summary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Set
from typing import Any

from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.audit import (
    GENESIS,
    Actor,
    AuditAction,
    AuditChain,
    AuditEntry,
    AuditRecord,
    ChainBreak,
)
from llmaas.domain.limits import Limits
from llmaas.domain.tenants import Organization, Tier
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWork, UnitOfWorkFactory

PAGE = 1000


class AuditTrail:
    def __init__(self, unit_of_work: UnitOfWorkFactory, chain: AuditChain, clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._chain = chain
        self._clock = clock

    async def record(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: AuditAction,
        target: str,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Add a record inside ``uow``: it commits (or rolls back) with the change it describes."""
        last = await uow.audit.last_for_update()
        entry = AuditEntry(
            at=self._clock.now(),
            actor=actor.name[:200],
            action=action,
            target=target[:200],
            source=actor.source[:64],
            before=dict(before or {}),
            after=dict(after or {}),
        )
        sequence, previous = (last.sequence + 1, last.hash) if last else (1, GENESIS)
        record = self._chain.seal(entry, sequence, previous)
        await uow.audit.add(record)
        return record

    async def record_alone(
        self,
        actor: Actor,
        action: AuditAction,
        target: str,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """For actions that change nothing in the database (a login, a drain)."""
        async with self._unit_of_work() as uow:
            record = await self.record(uow, actor, action, target, before=before, after=after)
            await uow.commit()
        return record

    async def records(self, *, after: int = 0, limit: int | None = None) -> list[AuditRecord]:
        async with self._unit_of_work() as uow:
            return await uow.audit.list(after=after, limit=limit)

    async def latest(self, limit: int) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first, read without scanning the trail."""
        async with self._unit_of_work() as uow:
            last = await uow.audit.last_for_update()
            if last is None:
                return []
            return await uow.audit.list(after=max(0, last.sequence - limit), limit=limit)

    async def all_records(self, *, after: int = 0) -> AsyncIterator[AuditRecord]:
        """Every record from ``after + 1`` on, read a page at a time."""
        while page := await self.records(after=after, limit=PAGE):
            for record in page:
                yield record
            after = page[-1].sequence

    async def records_of(
        self, organization_id: str, key_ids: Set[str], *, after: int = 0, limit: int
    ) -> list[AuditRecord]:
        """The records about one organization: itself, its keys, and its members' logins.

        Found by reading the trail in pages (it has no organization column: a record's target may be
        a key, whose organization only its creation record names).
        """
        found: list[AuditRecord] = []
        async for record in self.all_records(after=after):
            if concerns(record, organization_id, key_ids):
                found.append(record)
                if len(found) >= limit:
                    break
        return found

    async def verify(self) -> tuple[int, list[ChainBreak]]:
        """How many records were checked, and every break found."""
        records = [record async for record in self.all_records()]
        return len(records), self._chain.verify(records)


def key_summary(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "organization": record.organization_id,
        "admin": record.is_admin,
        "allowed_models": sorted(record.allowed_models) if record.allowed_models else None,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "limits": limits_summary(record.limits),
        "guardrail_policy": record.guardrail_policy,
    }


def tier_summary(tier: Tier) -> dict[str, Any]:
    summary = {
        field.name: plain(getattr(tier, field.name))
        for field in dataclasses.fields(tier)
        if field.name != "limits"
    }
    return {**summary, "limits": limits_summary(tier.limits)}


def organization_summary(organization: Organization) -> dict[str, Any]:
    summary = {
        field.name: plain(getattr(organization, field.name))
        for field in dataclasses.fields(organization)
        if field.name not in ("overrides", "created_at")
    }
    return {**summary, "overrides": limits_summary(organization.overrides)}


def limits_summary(limits: Limits) -> dict[str, int]:
    return {
        field.name: value
        for field in dataclasses.fields(limits)
        if (value := getattr(limits, field.name)) is not None
    }


def changed(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, on each side: what a reader of the trail wants to see."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def plain(value: Any) -> Any:
    """JSON-friendly: sets sorted, dates as ISO text, nested dataclasses as dicts."""
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


_SESSION_ACTIONS = (AuditAction.LOGIN_SUCCEEDED, AuditAction.LOGIN_FAILED, AuditAction.LOGOUT)


def concerns(record: AuditRecord, organization_id: str, key_ids: Set[str]) -> bool:
    entry = record.entry
    if entry.target == f"organization:{organization_id}":
        return True
    if entry.target.startswith("key:") and entry.target[4:] in key_ids:
        return True
    if entry.action in _SESSION_ACTIONS:
        roles = entry.after.get("roles")
        return isinstance(roles, Mapping) and organization_id in roles
    return any(side.get("organization") == organization_id for side in (entry.before, entry.after))
