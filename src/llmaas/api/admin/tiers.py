"""``/admin/v1/tiers``: the products an operator sells."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from llmaas.api.admin import examples
from llmaas.api.admin.auth import AdminCaller, PlatformReader
from llmaas.api.admin.docs import SECURITY, answers, body, reply
from llmaas.api.admin.schemas import TierCreate, TierList, TierOut, TierUpdate
from llmaas.api.body import parse_body

router = APIRouter(prefix="/tiers")


@router.get(
    "",
    response_model=None,
    responses=answers(TierList),
    openapi_extra=SECURITY,
    summary="List tiers",
)
async def list_tiers(caller: PlatformReader) -> Response:
    tiers = await caller.services.tenants.tiers()
    return reply(TierList(data=[TierOut.of(tier) for tier in tiers]))


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses=answers(TierOut, 201),
    openapi_extra=body(TierCreate, examples.TIER_CREATE),
    summary="Create a tier",
)
async def create_tier(http: Request, caller: AdminCaller) -> Response:
    request = await parse_body(http, TierCreate)
    tier = await caller.services.tenants.create_tier(request.to_tier(), by=caller.actor)
    return reply(TierOut.of(tier), 201)


@router.get(
    "/{tier_id}",
    response_model=None,
    responses=answers(TierOut),
    openapi_extra=SECURITY,
    summary="Describe a tier",
)
async def get_tier(tier_id: str, caller: PlatformReader) -> Response:
    return reply(TierOut.of(await caller.services.tenants.tier(tier_id)))


@router.patch(
    "/{tier_id}",
    response_model=None,
    responses=answers(TierOut),
    openapi_extra=body(TierUpdate, examples.TIER_UPDATE),
    summary="Change a tier (its organizations follow within seconds)",
)
async def update_tier(tier_id: str, http: Request, caller: AdminCaller) -> Response:
    request = await parse_body(http, TierUpdate)
    tenants = caller.services.tenants
    current = await tenants.tier(tier_id)
    tier = await tenants.update_tier(tier_id, by=caller.actor, **request.changes(current))
    return reply(TierOut.of(tier))
