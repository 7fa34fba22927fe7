"""Tiers and organizations: what an operator sells, and to whom.

Changes reach the request path through the authenticator, which re-reads a key's organization and tier
with the key itself (within ``key_recheck_seconds``), so an upgrade, a contract change or a credit
purchase applies on every instance without a restart.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from llmaas.domain.audit import SYSTEM, Actor, AuditAction
from llmaas.domain.errors import InvalidRequest, NotFound, echoed_id
from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.locations import NO_POLICY, DataPolicy
from llmaas.domain.tenants import TIER_ID_PATTERN, Organization, Tier
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWork, UnitOfWorkFactory
from llmaas.services.audit import AuditTrail, changed, organization_summary, tier_summary

_ID = re.compile(TIER_ID_PATTERN)


class TenantService:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock, audit: AuditTrail | None = None
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._audit = audit

    async def _record(
        self,
        uow: UnitOfWork,
        by: Actor,
        action: AuditAction,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any],
    ) -> None:
        if self._audit is None:
            return
        if before is not None:
            before, after = changed(before, after)
        await self._audit.record(uow, by, action, target, before=before, after=after)

    # --- tiers -------------------------------------------------------------------------------

    async def tiers(self) -> list[Tier]:
        async with self._unit_of_work() as uow:
            return await uow.tiers.list()

    async def tier(self, tier_id: str) -> Tier:
        async with self._unit_of_work() as uow:
            return await _tier(uow, tier_id)

    async def create_tier(self, tier: Tier, *, by: Actor = SYSTEM) -> Tier:
        _check_id(tier.id, "id")
        _check_name(tier.name)
        async with self._unit_of_work() as uow:
            if await uow.tiers.get(tier.id) is not None:
                raise InvalidRequest(f"A tier '{tier.id}' already exists.", param="id")
            await uow.tiers.add(tier)
            await self._record(
                uow, by, AuditAction.TIER_CREATED, f"tier:{tier.id}", None, tier_summary(tier)
            )
            await uow.commit()
        return tier

    async def update_tier(self, tier_id: str, *, by: Actor = SYSTEM, **changes: Any) -> Tier:
        async with self._unit_of_work() as uow:
            current = await _tier(uow, tier_id)
            tier = replace(current, **changes)
            _check_name(tier.name)
            await uow.tiers.update(tier)
            await self._record(
                uow,
                by,
                AuditAction.TIER_UPDATED,
                f"tier:{tier.id}",
                tier_summary(current),
                tier_summary(tier),
            )
            await uow.commit()
        return tier

    # --- organizations -----------------------------------------------------------------------

    async def organizations(self) -> list[Organization]:
        async with self._unit_of_work() as uow:
            return await uow.organizations.list()

    async def organization(self, organization_id: str) -> Organization:
        async with self._unit_of_work() as uow:
            return await _organization(uow, organization_id)

    async def create_organization(
        self,
        organization_id: str,
        name: str,
        tier_id: str,
        *,
        overrides: Limits | None = None,
        allowed_models: frozenset[str] | None = None,
        initial_credit_micros: int | None = None,
        data_policy: DataPolicy | None = None,
        guardrail_policy: GuardPolicy | None = None,
        by: Actor = SYSTEM,
    ) -> Organization:
        """A prepaid tier's organization starts with the tier's purchase credit unless told
        otherwise: joining such a tier means buying it."""
        _check_id(organization_id, "id")
        _check_name(name)
        now = self._clock.now()
        async with self._unit_of_work() as uow:
            tier = await _tier(uow, tier_id, param="tier")
            if await uow.organizations.get(organization_id) is not None:
                raise InvalidRequest(
                    f"An organization '{organization_id}' already exists.", param="id"
                )
            organization = Organization(
                id=organization_id,
                name=name.strip(),
                tier_id=tier.id,
                created_at=now,
                overrides=overrides or Limits(),
                allowed_models=allowed_models,
                data_policy=data_policy or NO_POLICY,
                guardrail_policy=guardrail_policy,
            )
            await uow.organizations.add(organization)
            credit = (
                initial_credit_micros
                if initial_credit_micros is not None
                else tier.purchase_credit_micros
            )
            if credit:
                granted = await uow.organizations.add_credit(
                    organization_id, credit, now, "initial purchase"
                )
                organization = replace(organization, credit_granted_micros=granted or 0)
            await self._record(
                uow,
                by,
                AuditAction.ORGANIZATION_CREATED,
                f"organization:{organization.id}",
                None,
                organization_summary(organization),
            )
            await uow.commit()
        return organization

    async def update_organization(
        self, organization_id: str, *, by: Actor = SYSTEM, **changes: Any
    ) -> Organization:
        async with self._unit_of_work() as uow:
            current = await _organization(uow, organization_id)
            organization = replace(current, **changes)
            _check_name(organization.name)
            await _tier(uow, organization.tier_id, param="tier")
            await uow.organizations.update(organization)
            await self._record(
                uow,
                by,
                AuditAction.ORGANIZATION_UPDATED,
                f"organization:{organization.id}",
                organization_summary(current),
                organization_summary(organization),
            )
            await uow.commit()
        return organization

    async def set_disabled(
        self, organization_id: str, disabled: bool, *, by: Actor = SYSTEM
    ) -> Organization:
        return await self.update_organization(
            organization_id, by=by, disabled_at=self._clock.now() if disabled else None
        )

    async def add_credit(
        self, organization_id: str, micros: int, note: str = "", *, by: Actor = SYSTEM
    ) -> Organization:
        if micros <= 0:
            raise InvalidRequest("A credit purchase must be a positive amount.", param="amount")
        async with self._unit_of_work() as uow:
            granted = await uow.organizations.add_credit(
                organization_id, micros, self._clock.now(), note[:200]
            )
            if granted is None:
                raise _no_organization(organization_id)
            organization = await _organization(uow, organization_id)
            await self._record(
                uow,
                by,
                AuditAction.CREDIT_ADDED,
                f"organization:{organization_id}",
                None,
                {"micros": micros, "note": note[:200]},
            )
            await uow.commit()
        return organization


async def _tier(uow: UnitOfWork, tier_id: str, *, param: str = "tier_id") -> Tier:
    tier = await uow.tiers.get(tier_id)
    if tier is None:
        raise NotFound(f"No tier with id '{echoed_id(tier_id)}'.", param=param)
    return tier


async def _organization(uow: UnitOfWork, organization_id: str) -> Organization:
    organization = await uow.organizations.get(organization_id)
    if organization is None:
        raise _no_organization(organization_id)
    return organization


def _no_organization(organization_id: str) -> NotFound:
    return NotFound(
        f"No organization with id '{echoed_id(organization_id)}'.", param="organization_id"
    )


def _check_id(value: str, param: str) -> None:
    if not _ID.fullmatch(value):
        raise InvalidRequest(
            "Ids are 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit.",
            param=param,
        )


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 200:
        raise InvalidRequest("A name must have 1 to 200 characters.", param="name")
