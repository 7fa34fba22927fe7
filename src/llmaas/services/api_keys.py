"""Creating, listing, changing, rotating and revoking API keys.

A revocation is stored, dropped from this process's cache and flagged in the shared counters, which
every instance checks on each request: the key stops working everywhere at its next request. A rotation
keeps the key's id (so its limits, counters and usage history carry on) and accepts the old secret for
a grace period, so clients can be redeployed without downtime.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from llmaas.domain.api_keys import ApiKeyRecord, KeyHasher, generate_key, new_secret_for
from llmaas.domain.audit import SYSTEM, Actor, AuditAction
from llmaas.domain.errors import InvalidRequest, NotFound, echoed_id
from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.secrets import Secret
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWork, UnitOfWorkFactory
from llmaas.services.admission import Admission
from llmaas.services.audit import AuditTrail, changed, key_summary
from llmaas.services.authentication import Authenticator

MAX_GRACE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created or rotated key: the only moment its secret exists outside the client."""

    record: ApiKeyRecord
    key: Secret


class ApiKeyService:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        hasher: KeyHasher,
        clock: Clock,
        authenticator: Authenticator | None = None,
        admission: Admission | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._hasher = hasher
        self._clock = clock
        self._authenticator = authenticator
        self._admission = admission
        self._audit = audit

    async def _record(
        self,
        uow: UnitOfWork,
        by: Actor,
        action: AuditAction,
        key_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        if self._audit is not None:
            await self._audit.record(uow, by, action, f"key:{key_id}", before=before, after=after)

    async def create(
        self,
        name: str,
        *,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        is_admin: bool = False,
        allowed_models: Iterable[str] | None = None,
        expires_at: datetime | None = None,
        limits: Limits | None = None,
        guardrail_policy: GuardPolicy | None = None,
        by: Actor = SYSTEM,
    ) -> IssuedKey:
        name = _checked_name(name)
        self._check_expiry(expires_at)
        key_id, key = generate_key()
        record = ApiKeyRecord(
            id=key_id,
            name=name,
            key_hash=self._hasher.hash(key),
            created_at=self._clock.now(),
            is_admin=is_admin,
            allowed_models=frozenset(allowed_models) if allowed_models is not None else None,
            expires_at=expires_at,
            organization_id=organization_id,
            limits=limits or Limits(),
            guardrail_policy=guardrail_policy,
        )
        async with self._unit_of_work() as uow:
            if await uow.organizations.get(organization_id) is None:
                raise NotFound(
                    f"No organization with id '{echoed_id(organization_id)}'.", param="organization"
                )
            await uow.api_keys.add(record)
            await self._record(uow, by, AuditAction.KEY_CREATED, key_id, after=key_summary(record))
            await uow.commit()
        return IssuedKey(record=record, key=key)

    async def get(self, key_id: str) -> ApiKeyRecord:
        async with self._unit_of_work() as uow:
            return await _existing(uow, key_id)

    async def list(
        self, *, include_revoked: bool = False, organization_id: str | None = None
    ) -> list[ApiKeyRecord]:
        async with self._unit_of_work() as uow:
            return await uow.api_keys.list(
                include_revoked=include_revoked, organization_id=organization_id
            )

    async def update(self, key_id: str, *, by: Actor = SYSTEM, **changes: Any) -> ApiKeyRecord:
        """Change the name, allowed models, limits, expiry or guardrail policy; the secret and owner
        stay."""
        allowed = {"name", "allowed_models", "limits", "expires_at", "guardrail_policy"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidRequest(f"Cannot change {sorted(unknown)} of a key.")
        if "name" in changes:
            changes["name"] = _checked_name(changes["name"])
        if "expires_at" in changes:
            self._check_expiry(changes["expires_at"])
        async with self._unit_of_work() as uow:
            current = await _active(uow, key_id)
            record = dataclasses.replace(current, **changes)
            await uow.api_keys.update(record)
            before, after = changed(key_summary(current), key_summary(record))
            await self._record(uow, by, AuditAction.KEY_UPDATED, key_id, before, after)
            await uow.commit()
        self._forget(key_id)
        return record

    async def rotate(self, key_id: str, *, grace: timedelta, by: Actor = SYSTEM) -> IssuedKey:
        if grace < timedelta(0) or grace > MAX_GRACE:
            raise InvalidRequest("The grace period must be between 0 and 30 days.", param="grace")
        now = self._clock.now()
        async with self._unit_of_work() as uow:
            current = await _active(uow, key_id)
            # Only once the key is known to exist: the secret spells its id, which must be ASCII.
            key = new_secret_for(current.id)
            record = dataclasses.replace(
                current,
                key_hash=self._hasher.hash(key),
                previous_key_hash=current.key_hash if grace else None,
                previous_valid_until=now + grace if grace else None,
            )
            await uow.api_keys.update(record)
            await self._record(
                uow,
                by,
                AuditAction.KEY_ROTATED,
                key_id,
                after={"old_secret_valid_until": _iso(record.previous_valid_until)},
            )
            await uow.commit()
        self._forget(key_id)
        return IssuedKey(record=record, key=key)

    async def revoke(self, key_id: str, *, by: Actor = SYSTEM) -> None:
        async with self._unit_of_work() as uow:
            revoked = await uow.api_keys.revoke(key_id, self._clock.now())
            if revoked:
                await self._record(uow, by, AuditAction.KEY_REVOKED, key_id)
            await uow.commit()
        if not revoked:
            raise NotFound(f"No active API key with id '{echoed_id(key_id)}'.", param="key_id")
        self._forget(key_id)
        if self._admission is not None:
            await self._admission.revoke(key_id)

    async def has_any(self) -> bool:
        async with self._unit_of_work() as uow:
            return await uow.api_keys.count() > 0

    def _forget(self, key_id: str) -> None:
        if self._authenticator is not None:
            self._authenticator.forget(key_id)

    def _check_expiry(self, expires_at: datetime | None) -> None:
        if expires_at is not None and expires_at <= self._clock.now():
            raise InvalidRequest("The expiry must be in the future.", param="expires_at")


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("A key name must have 1 to 200 characters.", param="name")
    return name


async def _existing(uow: UnitOfWork, key_id: str) -> ApiKeyRecord:
    record = await uow.api_keys.get(key_id)
    if record is None:
        raise NotFound(f"No API key with id '{echoed_id(key_id)}'.", param="key_id")
    return record


async def _active(uow: UnitOfWork, key_id: str) -> ApiKeyRecord:
    record = await _existing(uow, key_id)
    if record.revoked_at is not None:
        raise InvalidRequest("This API key is revoked.", param="key_id", code="key_revoked")
    return record


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
