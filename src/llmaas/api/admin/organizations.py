"""``/admin/v1/organizations``: customers, their contracts and their prepaid credit."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from starlette.responses import Response

from llmaas.api.admin import examples
from llmaas.api.admin.auth import AdminCaller, UsageReader
from llmaas.api.admin.docs import SECURITY, answers, body, reply
from llmaas.api.admin.schemas import (
    CreditPurchase,
    OrganizationCreate,
    OrganizationList,
    OrganizationOut,
    OrganizationUpdate,
)
from llmaas.api.body import parse_body
from llmaas.domain.errors import echoed_id
from llmaas.domain.tenants import Organization
from llmaas.services.container import Services

router = APIRouter(prefix="/organizations")


@router.get(
    "",
    response_model=None,
    responses=answers(OrganizationList),
    openapi_extra=SECURITY,
    summary="List organizations",
)
async def list_organizations(caller: UsageReader) -> Response:
    organizations = [
        organization
        for organization in await caller.services.tenants.organizations()
        if caller.scope.covers(organization.id)
    ]
    return reply(OrganizationList(data=await _views(caller.services, organizations)))


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses=answers(OrganizationOut, 201),
    openapi_extra=body(OrganizationCreate, examples.ORGANIZATION_CREATE),
    summary="Create an organization",
)
async def create_organization(http: Request, caller: AdminCaller) -> Response:
    request = await parse_body(http, OrganizationCreate)
    organization = await caller.services.tenants.create_organization(
        request.id, request.name, request.tier, by=caller.actor, **request.arguments()
    )
    return reply(await _view(caller.services, organization), 201)


@router.get(
    "/{organization_id}",
    response_model=None,
    responses=answers(OrganizationOut),
    openapi_extra=SECURITY,
    summary="Describe an organization, with its credit balance",
)
async def get_organization(organization_id: str, caller: UsageReader) -> Response:
    caller.require_organization(organization_id, f"organization '{echoed_id(organization_id)}'")
    organization = await caller.services.tenants.organization(organization_id)
    return reply(await _view(caller.services, organization))


@router.patch(
    "/{organization_id}",
    response_model=None,
    responses=answers(OrganizationOut),
    openapi_extra=body(OrganizationUpdate, examples.ORGANIZATION_UPDATE),
    summary="Change an organization's tier, contract or status",
)
async def update_organization(organization_id: str, http: Request, caller: AdminCaller) -> Response:
    request = await parse_body(http, OrganizationUpdate)
    tenants = caller.services.tenants
    current = await tenants.organization(organization_id)
    organization = await tenants.update_organization(
        organization_id, by=caller.actor, **request.changes(current)
    )
    if request.disabled is not None and request.disabled != (organization.disabled_at is not None):
        organization = await tenants.set_disabled(
            organization_id, request.disabled, by=caller.actor
        )
    return reply(await _view(caller.services, organization))


@router.post(
    "/{organization_id}/credits",
    response_model=None,
    responses=answers(OrganizationOut),
    openapi_extra=body(CreditPurchase, examples.CREDIT_PURCHASE),
    summary="Record a purchase of prepaid credit",
)
async def add_credit(organization_id: str, http: Request, caller: AdminCaller) -> Response:
    request = await parse_body(http, CreditPurchase)
    organization = await caller.services.tenants.add_credit(
        organization_id, request.amount_eur, request.note, by=caller.actor
    )
    return reply(await _view(caller.services, organization))


async def _view(services: Services, organization: Organization) -> OrganizationOut:
    (view,) = await _views(services, [organization])
    return view


async def _views(
    services: Services, organizations: Sequence[Organization]
) -> list[OrganizationOut]:
    """Balances come from the live spend counters, read for the whole list in one round trip."""
    tiers = {tier.id: tier for tier in await services.tenants.tiers()}
    spent = await services.admission.credit_spent([o.id for o in organizations])
    return [OrganizationOut.of(o, tiers[o.tier_id], spent[o.id]) for o in organizations]
