"""``/admin/v1/audit``: read the audit trail, and check that nobody rewrote it."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from llmaas.api.admin.audit_schemas import AuditList, AuditRecordOut, AuditVerification
from llmaas.api.admin.auth import AuditReader, PlatformReader
from llmaas.api.admin.docs import SECURITY, answers, reply
from llmaas.domain.audit import AuditRecord
from llmaas.domain.errors import InvalidRequest
from llmaas.services.container import Services

router = APIRouter(prefix="/audit")
MAX_PAGE = 1000


@router.get(
    "",
    response_model=None,
    responses=answers(AuditList),
    openapi_extra=SECURITY,
    summary="List audit records, oldest first (page with `after`)",
)
async def list_audit(
    caller: AuditReader,
    after: str | None = Query(default=None, description="Only records after this sequence."),
    limit: str | None = Query(default=None, description=f"At most this many (1 to {MAX_PAGE})."),
) -> Response:
    start = _count(after, "after", minimum=0, default=0)
    size = _count(limit, "limit", minimum=1, default=100, maximum=MAX_PAGE)
    organization = caller.scope.organization_id
    if organization is None:
        records = await caller.services.audit.records(after=start, limit=size + 1)
    else:
        records = await organization_records(
            caller.services, organization, after=start, limit=size + 1
        )
    return reply(
        AuditList(data=[AuditRecordOut.of(r) for r in records[:size]], has_more=len(records) > size)
    )


@router.get(
    "/verification",
    response_model=None,
    responses=answers(AuditVerification),
    openapi_extra=SECURITY,
    summary="Check the whole hash chain: any modified, deleted or reordered record is named",
)
async def verify_audit(caller: PlatformReader) -> Response:
    checked, breaks = await caller.services.audit.verify()
    return reply(
        AuditVerification(records=checked, intact=not breaks, breaks=[str(b) for b in breaks])
    )


async def organization_records(
    services: Services, organization_id: str, *, after: int = 0, limit: int
) -> list[AuditRecord]:
    """The records about one organization: its keys (revoked ones too) are what most of them name."""
    keys = await services.api_keys.list(include_revoked=True, organization_id=organization_id)
    return await services.audit.records_of(
        organization_id, {key.id for key in keys}, after=after, limit=limit
    )


def _count(
    value: str | None, param: str, *, minimum: int, default: int, maximum: int | None = None
) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"'{param}' must be a whole number.", param=param) from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidRequest(f"'{param}' must be {bound}.", param=param)
    return number
