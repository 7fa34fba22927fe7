"""The console's pages: overview, API keys, usage, catalog (with a playground) and audit trail.

Pages read through the same services as the admin API and check the same permissions; what they
change, they change by calling the admin API from the browser (``console.js``), so there is one place
that decides who may do what, and a viewer gets 403 from the API whatever a page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from llmaas.api.admin.audit import organization_records
from llmaas.api.console.i18n import formatter_for, language_of
from llmaas.api.console.login import login_redirect
from llmaas.api.console.rendering import page_headers, render
from llmaas.api.console.usage_view import UsageView
from llmaas.api.sessions import session_of
from llmaas.domain.audit import AuditRecord
from llmaas.domain.staff import Permission
from llmaas.domain.usage_reports import GroupBy, UsageQuery
from llmaas.services.console_overview import ConsoleOverview, Overview
from llmaas.services.console_sessions import ConsoleSession
from llmaas.services.container import Services

router = APIRouter()
AUDIT_PAGE = 100
USAGE_DAYS = (7, 30, 90)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _overview(request: Request) -> ConsoleOverview:
    return _services(request).console_overview


async def _gate(request: Request, permission: Permission) -> ConsoleSession | Response:
    """The session, or the response to send instead: the login page, or 403 for a role too weak."""
    session = await session_of(request)
    if session is None:
        return login_redirect(request)
    if not session.scope.allows(permission):
        return await _page(request, "forbidden.html", session, status_code=403)
    return session


async def _organizations(request: Request, session: ConsoleSession) -> list[tuple[str, str]]:
    """The organizations the switcher offers: every one for an operator, the member's otherwise."""
    everything = await _services(request).tenants.organizations()
    return [(o.id, o.name) for o in everything if session.member.scope_in(o.id) is not None]


async def _page(
    request: Request, template: str, session: ConsoleSession, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        template,
        session=session,
        status_code=status_code,
        organizations=await _organizations(request, session),
        **context,
    )


@router.get("/")
async def overview_page(request: Request) -> Response:
    gate = await _gate(request, Permission.USAGE_READ)
    if isinstance(gate, Response):
        return gate
    overview = await _overview(request).of(gate.organization_id)
    return await _page(
        request, "overview.html", gate, o=overview, live=_live_json(request, overview)
    )


@router.get("/overview.json")
async def overview_figures(request: Request) -> Response:
    """What the overview refreshes every few seconds, already formatted for the page's language."""
    session = await session_of(request)
    if session is None:
        return JSONResponse({"error": "logged_out"}, status_code=401, headers=page_headers(request))
    if not session.scope.allows(Permission.USAGE_READ):
        return JSONResponse({"error": "forbidden"}, status_code=403, headers=page_headers(request))
    overview = await _overview(request).of(session.organization_id)
    return JSONResponse(_live_json(request, overview), headers=page_headers(request))


def _live_json(request: Request, overview: Overview) -> dict[str, Any]:
    fmt = formatter_for(language_of(request))
    live, month = overview.live, overview.month
    return {
        "month_spend": fmt.euros(overview.month_spend_micros),
        "budget": fmt.euros(overview.budget_micros),
        "budget_used": fmt.percent(overview.budget_used),
        "budget_share": min(overview.budget_used or 0.0, 1.0),
        "credit_remaining": fmt.euros(overview.credit_remaining_micros),
        "input_tokens": fmt.number(month.prompt_tokens),
        "output_tokens": fmt.number(month.completion_tokens - month.reasoning_tokens),
        "reasoning_tokens": fmt.number(month.reasoning_tokens),
        "month_requests": fmt.number(month.requests),
        "requests_per_minute": fmt.number(live.requests_per_minute),
        "error_rate": fmt.percent(live.error_rate if live.requests else None),
        "latency_p50": _ms(fmt.number(live.latency_p50_ms), live.latency_p50_ms),
        "latency_p95": _ms(fmt.number(live.latency_p95_ms), live.latency_p95_ms),
        "recent_requests": fmt.number(live.requests),
        "series": [[p.requests, p.failed] for p in live.series],
    }


def _ms(formatted: str, value: float | None) -> str:
    return formatted if value is None else f"{formatted} ms"


@router.get("/keys")
async def keys_page(request: Request, revoked: str | None = None) -> Response:
    gate = await _gate(request, Permission.KEYS_READ)
    if isinstance(gate, Response):
        return gate
    services = _services(request)
    keys = await services.api_keys.list(
        include_revoked=revoked == "1", organization_id=gate.organization_id
    )
    models = await _overview(request).catalog(gate.organization_id)
    return await _page(
        request,
        "keys.html",
        gate,
        keys=sorted(keys, key=lambda k: k.created_at, reverse=True),
        models=[m.id for m in models],
        show_revoked=revoked == "1",
        now=datetime.now(UTC),
        can_write=gate.scope.allows(Permission.KEYS_WRITE),
    )


@router.get("/usage")
async def usage_page(request: Request, days: int = 30) -> Response:
    gate = await _gate(request, Permission.USAGE_READ)
    if isinstance(gate, Response):
        return gate
    days = days if days in USAGE_DAYS else 30
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    start = end - timedelta(days=days)
    reports = _services(request).usage

    async def grouped(*group_by: GroupBy) -> Sequence[Any]:
        query = UsageQuery(start, end, group_by, organization_id=gate.organization_id)
        return await reports.report(query)

    view = UsageView.build(
        start.date(),
        days,
        by_day=await grouped(GroupBy.DAY),
        by_model=await grouped(GroupBy.MODEL),
        by_key=await grouped(GroupBy.KEY),
        key_names={
            k.id: k.name
            for k in await _services(request).api_keys.list(
                include_revoked=True, organization_id=gate.organization_id
            )
        },
    )
    return await _page(
        request,
        "usage.html",
        gate,
        view=view,
        days=days,
        choices=USAGE_DAYS,
        csv_start=start.date().isoformat(),
        csv_end=end.date().isoformat(),
    )


@router.get("/catalog")
async def catalog_page(request: Request) -> Response:
    gate = await _gate(request, Permission.CATALOG_READ)
    if isinstance(gate, Response):
        return gate
    models = await _overview(request).catalog(gate.organization_id)
    today = datetime.now(UTC).date()
    return await _page(
        request,
        "catalog.html",
        gate,
        models=models,
        days_left={
            m.id: _days_until(m.lifecycle.sunset if m.lifecycle else None, today) for m in models
        },
    )


def _days_until(sunset: str | None, today: date) -> int | None:
    return None if sunset is None else (date.fromisoformat(sunset) - today).days


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    gate = await _gate(request, Permission.AUDIT_READ)
    if isinstance(gate, Response):
        return gate
    records = await _recent_audit(_services(request), gate)
    return await _page(request, "audit.html", gate, records=records)


async def _recent_audit(services: Services, session: ConsoleSession) -> list[AuditRecord]:
    """The newest records first: the whole trail for an operator, the organization's otherwise."""
    organization = session.scope.organization_id
    if organization is None:
        records = await services.audit.latest(AUDIT_PAGE)
    else:
        records = await organization_records(services, organization, limit=1_000_000)
    return list(reversed(records[-AUDIT_PAGE:]))
