"""``GET /admin/v1/usage``: consumption of every organization, key and model, as JSON or CSV."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from llmaas.api.admin.auth import UsageReader
from llmaas.api.admin.docs import SECURITY, answers
from llmaas.api.admin.reports import CSV_CONTENT, ReportParamsDep, UsageReportOut, usage_report

router = APIRouter()

_RESPONSES = answers(UsageReportOut)
_RESPONSES[200]["content"] = {**_RESPONSES[200]["content"], **CSV_CONTENT}


@router.get(
    "/usage",
    response_model=None,
    responses=_RESPONSES,
    openapi_extra=SECURITY,
    summary="Usage report (JSON or CSV)",
)
async def usage(
    caller: UsageReader,
    params: ReportParamsDep,
    organization: str | None = Query(default=None, description="Only this organization."),
    key: str | None = Query(default=None, description="Only this API key (its id)."),
    model: str | None = Query(default=None, description="Only this model."),
) -> Response:
    reports = caller.services.usage
    query = params.query(
        reports.this_month(),
        organization_id=caller.organization(organization),
        key_id=key,
        model=model,
    )
    return await usage_report(reports, params, query)
