"""``GET /v1/me`` and ``GET /v1/me/usage``: what an API key may read about itself.

Not part of OpenAI's API, but under ``/v1`` because clients call it with the key they already use. The
limits come with what is used of them in the current windows (the live admission counters, exact to the
last settled request), so a client can see how close it is to a limit before it is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field
from starlette.responses import Response

from llmaas.api.admin.docs import reply
from llmaas.api.admin.reports import CSV_CONTENT, ReportParamsDep, UsageReportOut, usage_report
from llmaas.api.admin.values import ResponseModel, eur, model_list
from llmaas.api.dependencies import Authenticated
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.limits import Limits
from llmaas.domain.money import format_eur
from llmaas.openai_schema.errors import ErrorResponse
from llmaas.services.usage_reports import KeyStatus, limits_view

router = APIRouter(tags=["Self-service"])

_BUDGET = "monthly_budget_micros"
"""Always counted (spend is shown even without a cap); the other windows only when limited."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid query parameter (names the `param`)"},
    401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key"},
    403: {"model": ErrorResponse, "description": "The key's organization is disabled"},
}


class WindowUsage(ResponseModel):
    """``used``/``remaining`` are null where nothing is counted (no limit at this level)."""

    limit: int | None
    used: int | None
    remaining: int | None


class BudgetUsage(ResponseModel):
    limit: str | None = Field(description="EUR; null: no cap at this level.")
    used: str = Field(description="EUR spent this month.")
    remaining: str | None


class LimitsUsage(ResponseModel):
    requests_per_minute: WindowUsage
    tokens_per_minute: WindowUsage
    output_tokens_per_hour: WindowUsage
    output_tokens_per_day: WindowUsage
    max_concurrent_requests: WindowUsage
    monthly_budget_eur: BudgetUsage

    @classmethod
    def of(cls, limits: Limits, consumption: dict[str, int], scope: str) -> LimitsUsage:
        view = limits_view(limits, consumption, scope)
        fields: dict[str, Any] = {
            name: _window(WindowUsage.model_validate(item))
            for name, item in view.items()
            if name != _BUDGET
        }
        budget = WindowUsage.model_validate(view[_BUDGET])
        fields["monthly_budget_eur"] = BudgetUsage(
            limit=eur(budget.limit),
            used=format_eur(budget.used or 0),
            remaining=eur(budget.remaining),
        )
        return cls.model_validate(fields)


def _window(usage: WindowUsage) -> WindowUsage:
    """Admission charges a window only where it has a limit, and concurrency is not read here: an
    uncounted figure is shown as unknown rather than as a misleading zero."""
    if usage.limit is None or usage.used is None:
        return WindowUsage(limit=usage.limit, used=None, remaining=None)
    return usage


class ScopedLimits(ResponseModel):
    key: LimitsUsage = Field(description="The key's own limits.")
    organization: LimitsUsage = Field(description="The organization's (tier and contract).")


class KeyInfo(ResponseModel):
    id: str
    name: str
    prefix: str
    organization: str
    tier: str
    is_admin: bool
    allowed_models: list[str] | None = Field(description="Effective: key, organization and tier.")
    created_at: datetime
    expires_at: datetime | None


class Spend(ResponseModel):
    month_start: datetime
    key_eur: str
    organization_eur: str
    remaining_budget_eur: str | None = Field(
        description="What the tightest monthly cap (key or organization) still allows; null: none."
    )


class Credit(ResponseModel):
    granted_eur: str = Field(description="Prepaid credit bought, all time.")
    spent_eur: str = Field(description="Spent, all time.")
    balance_eur: str


_WINDOW: dict[str, Any] = {"limit": 600, "used": 12, "remaining": 588}
_OPEN: dict[str, Any] = {"limit": None, "used": None, "remaining": None}
_LIMITS_EXAMPLE: dict[str, Any] = {
    "requests_per_minute": _WINDOW,
    "tokens_per_minute": _OPEN,
    "output_tokens_per_hour": _OPEN,
    "output_tokens_per_day": _OPEN,
    "max_concurrent_requests": _OPEN,
    "monthly_budget_eur": {"limit": "50.00", "used": "1.25", "remaining": "48.75"},
}


class MeOut(ResponseModel):
    """The calling key, its limits and what is used of them, its spend and its credit."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "api_key.status",
                    "key": {
                        "id": "k3y1d0000001",
                        "name": "ci",
                        "prefix": "sk-llmaas-k3y1d0000001-...",
                        "organization": "acme",
                        "tier": "tier-1",
                        "is_admin": False,
                        "allowed_models": None,
                        "created_at": "2025-01-15T09:30:00Z",
                        "expires_at": None,
                    },
                    "limits": {"key": _LIMITS_EXAMPLE, "organization": _LIMITS_EXAMPLE},
                    "spend": {
                        "month_start": "2025-01-01T00:00:00Z",
                        "key_eur": "1.25",
                        "organization_eur": "1.25",
                        "remaining_budget_eur": "48.75",
                    },
                    "credit": {
                        "granted_eur": "200.00",
                        "spent_eur": "1.25",
                        "balance_eur": "198.75",
                    },
                }
            ]
        }
    )

    object: Literal["api_key.status"] = "api_key.status"
    key: KeyInfo
    limits: ScopedLimits
    spend: Spend
    credit: Credit | None = Field(description="Prepaid organizations only.")

    @classmethod
    def of(cls, record: ApiKeyRecord, status: KeyStatus) -> MeOut:
        principal, used = status.principal, status.consumption
        key = LimitsUsage.of(principal.key_limits, used, "key")
        organization = LimitsUsage.of(principal.organization_limits, used, "organization")
        return cls(
            key=KeyInfo(
                id=record.id,
                name=record.name,
                prefix=record.display_prefix,
                organization=principal.organization_id,
                tier=principal.tier_id,
                is_admin=principal.is_admin,
                allowed_models=model_list(principal.allowed_models),
                created_at=record.created_at,
                expires_at=record.expires_at,
            ),
            limits=ScopedLimits(key=key, organization=organization),
            spend=Spend(
                month_start=status.month_start,
                key_eur=format_eur(used.get(f"key.{_BUDGET}", 0)),
                organization_eur=format_eur(used.get(f"organization.{_BUDGET}", 0)),
                remaining_budget_eur=eur(
                    _remaining_budget(principal.key_limits, principal.organization_limits, used)
                ),
            ),
            credit=_credit(status),
        )


def _remaining_budget(key: Limits, organization: Limits, used: dict[str, int]) -> int | None:
    left = [
        max(0, limits.monthly_budget_micros - used.get(f"{scope}.{_BUDGET}", 0))
        for scope, limits in (("key", key), ("organization", organization))
        if limits.monthly_budget_micros is not None
    ]
    return min(left, default=None)


def _credit(status: KeyStatus) -> Credit | None:
    granted = status.principal.credit_micros
    if granted is None:
        return None
    spent = status.consumption.get("organization.credit_spent_micros", 0)
    return Credit(
        granted_eur=format_eur(granted),
        spent_eur=format_eur(spent),
        balance_eur=format_eur(granted - spent),
    )


@router.get(
    "/me",
    response_model=None,
    responses={200: {"model": MeOut}, **_ERRORS},
    summary="This API key: its limits, what is used of them, spend and credit",
)
async def me(caller: Authenticated) -> Response:
    principal = caller.ctx.principal
    status = await caller.services.usage.key_status(principal)
    record = await caller.services.api_keys.get(principal.key_id)
    return reply(MeOut.of(record, status))


@router.get(
    "/me/usage",
    response_model=None,
    responses={
        200: {"model": UsageReportOut, "content": CSV_CONTENT},
        **_ERRORS,
    },
    summary="This API key's usage report (JSON or CSV)",
)
async def my_usage(
    caller: Authenticated,
    params: ReportParamsDep,
    model: str | None = Query(default=None, description="Only this model."),
) -> Response:
    reports = caller.services.usage
    query = params.query(reports.this_month(), key_id=caller.ctx.principal.key_id, model=model)
    return await usage_report(reports, params, query)
