"""``/admin/v1/keys``: issue, change, rotate and revoke API keys.

A secret appears in exactly two responses, creation and rotation; every other answer shows the key's
display prefix only.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from llmaas.api.admin import examples
from llmaas.api.admin.auth import AdminCall, KeysReader, KeysWriter
from llmaas.api.admin.docs import SECURITY, answers, body, parse_optional_body, reply
from llmaas.api.admin.reports import flag
from llmaas.api.admin.schemas import (
    IssuedKeyOut,
    KeyCreate,
    KeyList,
    KeyOut,
    KeyRotation,
    KeyUpdate,
)
from llmaas.api.body import parse_body
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.errors import echoed_id
from llmaas.domain.staff import Permission

router = APIRouter(prefix="/keys")


@router.get(
    "",
    response_model=None,
    responses=answers(KeyList),
    openapi_extra=SECURITY,
    summary="List API keys",
)
async def list_keys(
    caller: KeysReader,
    organization: str | None = Query(default=None, description="Only this organization's keys."),
    include_revoked: str | None = Query(
        default=None, description="`true` to list revoked keys too.", examples=["true"]
    ),
) -> Response:
    records = await caller.services.api_keys.list(
        include_revoked=flag(include_revoked, "include_revoked"),
        organization_id=caller.organization(organization),
    )
    return reply(KeyList(data=[KeyOut.of(record) for record in records]))


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses=answers(IssuedKeyOut, 201),
    openapi_extra=body(KeyCreate, examples.KEY_CREATE),
    summary="Create an API key (its secret is shown once)",
)
async def create_key(http: Request, caller: KeysWriter) -> Response:
    request = await parse_body(http, KeyCreate)
    arguments = request.arguments()
    if caller.scope.organization_id is not None:
        # A scoped caller creates keys in its own organization, and never an admin key: that
        # would be the platform operator's power.
        if "organization" not in request.model_fields_set:
            arguments["organization_id"] = caller.scope.organization_id
        caller.require_organization(arguments["organization_id"], "such organization")
        if request.is_admin:
            caller.require(Permission.PLATFORM_WRITE)
    issued = await caller.services.api_keys.create(request.name, by=caller.actor, **arguments)
    return reply(IssuedKeyOut.issued(issued.record, issued.key.reveal()), 201)


@router.get(
    "/{key_id}",
    response_model=None,
    responses=answers(KeyOut),
    openapi_extra=SECURITY,
    summary="Describe an API key",
)
async def get_key(key_id: str, caller: KeysReader) -> Response:
    return reply(KeyOut.of(await _visible_key(caller, key_id, change=False)))


@router.patch(
    "/{key_id}",
    response_model=None,
    responses=answers(KeyOut),
    openapi_extra=body(KeyUpdate, examples.KEY_UPDATE),
    summary="Change an API key's name, models, limits or expiry",
)
async def update_key(key_id: str, http: Request, caller: KeysWriter) -> Response:
    request = await parse_body(http, KeyUpdate)
    current = await _visible_key(caller, key_id)
    record = await caller.services.api_keys.update(
        key_id, by=caller.actor, **request.changes(current)
    )
    return reply(KeyOut.of(record))


@router.post(
    "/{key_id}/rotate",
    response_model=None,
    responses=answers(IssuedKeyOut),
    openapi_extra=body(KeyRotation, examples.KEY_ROTATION, required=False),
    summary="Rotate an API key: a new secret, the old one valid for a grace period",
)
async def rotate_key(key_id: str, http: Request, caller: KeysWriter) -> Response:
    request = await parse_optional_body(http, KeyRotation)
    await _visible_key(caller, key_id)
    issued = await caller.services.api_keys.rotate(
        key_id, grace=timedelta(seconds=request.grace_seconds), by=caller.actor
    )
    return reply(IssuedKeyOut.issued(issued.record, issued.key.reveal()))


@router.post(
    "/{key_id}/revoke",
    response_model=None,
    responses=answers(KeyOut),
    openapi_extra=SECURITY,
    summary="Revoke an API key (refused everywhere from its next request)",
)
async def revoke_key(key_id: str, caller: KeysWriter) -> Response:
    await _visible_key(caller, key_id)
    keys = caller.services.api_keys
    await keys.revoke(key_id, by=caller.actor)
    return reply(KeyOut.of(await keys.get(key_id)))


async def _visible_key(caller: AdminCall, key_id: str, *, change: bool = True) -> ApiKeyRecord:
    """The key, if the caller may see it: another organization's key is as unknown as a missing one.

    An admin key is the platform operator's credential, so only the platform operator changes one.
    """
    record = await caller.services.api_keys.get(key_id)
    caller.require_organization(record.organization_id, f"API key with id '{echoed_id(key_id)}'")
    if change and record.is_admin:
        caller.require(Permission.PLATFORM_WRITE)
    return record
