"""Usage reports on the wire, for operators (``/admin/v1/usage``) and for a key (``/v1/me/usage``).

Query parameters are parsed here rather than by FastAPI, so a bad one is reported under its own name
(``param: "start"``) like every other invalid request. JSON rows carry exact EUR strings and the micros
they come from; CSV is the same report for spreadsheets and invoicing tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import ConfigDict, Field
from starlette.responses import Response

from llmaas.api.admin.docs import reply
from llmaas.api.admin.values import ResponseModel
from llmaas.domain.errors import InvalidRequest
from llmaas.domain.money import format_eur
from llmaas.domain.usage_reports import GroupBy, RollupTotals, UsageQuery, UsageRow
from llmaas.services.usage_reports import UsageReports, to_csv

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})
_GROUPS = ", ".join(g.value for g in GroupBy)
_GROUP_FIELDS = frozenset(g.value for g in GroupBy)


def _omitted(value: object) -> bool:
    return value is None


def _group_field() -> Any:
    return Field(default=None, exclude_if=_omitted)


class TokensByType(ResponseModel):
    input: int
    output: int = Field(description="Visible output: output tokens minus reasoning tokens.")
    reasoning: int

    @classmethod
    def of(cls, totals: RollupTotals) -> TokensByType:
        return cls(
            input=totals.prompt_tokens,
            output=totals.completion_tokens - totals.reasoning_tokens,
            reasoning=totals.reasoning_tokens,
        )


ROW_EXAMPLE: dict[str, Any] = {
    "key": "k3y1d0000001",
    "model": "qwen2.5-coder:0.5b",
    "day": "2025-01-15T00:00:00+00:00",
    "requests": 1200,
    "failed_requests": 3,
    "input_tokens": 480000,
    "output_tokens": 96000,
    "reasoning_tokens": 0,
    "audio_seconds": 0.0,
    "cost_eur": "0.672",
    "cost_micros": 672000,
}


class UsageRowOut(ResponseModel):
    """One group (or the total): the group's fields appear only when grouped by them."""

    model_config = ConfigDict(json_schema_extra={"examples": [ROW_EXAMPLE]})

    organization: str | None = _group_field()
    key: str | None = _group_field()
    model: str | None = _group_field()
    day: str | None = _group_field()
    hour: str | None = _group_field()
    requests: int
    failed_requests: int
    input_tokens: int
    output_tokens: int = Field(description="Including reasoning tokens (OpenAI's accounting).")
    reasoning_tokens: int
    audio_seconds: float
    cost_eur: str
    cost_micros: int
    tokens_by_type: TokensByType | None = _group_field()

    @classmethod
    def of(cls, group: dict[str, str], totals: RollupTotals, *, by_type: bool) -> UsageRowOut:
        return cls.model_validate(
            {
                **group,
                "requests": totals.requests,
                "failed_requests": totals.failed_requests,
                "input_tokens": totals.prompt_tokens,
                "output_tokens": totals.completion_tokens,
                "reasoning_tokens": totals.reasoning_tokens,
                "audio_seconds": totals.audio_ms / 1000,
                "cost_eur": format_eur(totals.cost_micros),
                "cost_micros": totals.cost_micros,
                "tokens_by_type": TokensByType.of(totals) if by_type else None,
            }
        )


class UsageReportOut(ResponseModel):
    """A usage report: one row per group over ``[start, end)``, and their total."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "usage_report",
                    "start": "2025-01-01T00:00:00Z",
                    "end": "2025-02-01T00:00:00Z",
                    "group_by": ["key", "model", "day"],
                    "data": [ROW_EXAMPLE],
                    "total": {k: v for k, v in ROW_EXAMPLE.items() if k not in _GROUP_FIELDS},
                }
            ]
        }
    )

    object: Literal["usage_report"] = "usage_report"
    start: datetime
    end: datetime
    group_by: list[str]
    data: list[UsageRowOut]
    total: UsageRowOut

    @classmethod
    def of(cls, query: UsageQuery, rows: list[UsageRow], *, by_type: bool) -> UsageReportOut:
        total = RollupTotals()
        for row in rows:
            total.add(row.totals)
        return cls(
            start=query.start,
            end=query.end,
            group_by=[g.value for g in query.group_by],
            data=[UsageRowOut.of(row.group, row.totals, by_type=by_type) for row in rows],
            total=UsageRowOut.of({}, total, by_type=by_type),
        )


@dataclass(frozen=True, slots=True)
class ReportParams:
    """The query parameters both report endpoints share, as sent."""

    start: str | None
    end: str | None
    group_by: str | None
    token_type: str | None
    format: str | None

    def query(
        self,
        this_month: tuple[datetime, datetime],
        *,
        organization_id: str | None = None,
        key_id: str | None = None,
        model: str | None = None,
    ) -> UsageQuery:
        return UsageQuery(
            start=_moment(self.start, "start") or this_month[0],
            end=_moment(self.end, "end") or this_month[1],
            group_by=_group_by(self.group_by),
            organization_id=organization_id,
            key_id=key_id,
            model=model,
        )


async def report_params(
    start: str | None = Query(
        default=None,
        description="ISO 8601 date or date-time (UTC unless it says otherwise); "
        "default: the start of this month.",
        examples=["2025-01-01"],
    ),
    end: str | None = Query(
        default=None,
        description="Exclusive; default: the start of next month.",
        examples=["2025-02-01"],
    ),
    group_by: str | None = Query(
        default=None,
        description=f"Comma-separated, any of: {_GROUPS}. Default: one total row.",
        examples=["key,model,day"],
    ),
    token_type: str | None = Query(
        default=None,
        description="`true`: tokens split by type (input, output, reasoning); "
        "in CSV, one line per group and token type.",
        examples=["true"],
    ),
    format: str | None = Query(
        default=None,
        description="`json` (default) or `csv`.",
        json_schema_extra={"enum": ["json", "csv"]},
    ),
) -> ReportParams:
    return ReportParams(start, end, group_by, token_type, format)


ReportParamsDep = Annotated[ReportParams, Depends(report_params)]

CSV_CONTENT: dict[str, Any] = {
    "text/csv": {
        "schema": {"type": "string"},
        "example": "model,requests,failed_requests,input_tokens,output_tokens,reasoning_tokens,"
        "audio_seconds,cost_eur\nqwen2.5-coder:0.5b,1200,3,480000,96000,0,0.000,0.672\n",
    }
}
"""The ``format=csv`` answer, documented beside the JSON one."""


async def usage_report(usage: UsageReports, params: ReportParams, query: UsageQuery) -> Response:
    as_csv = _as_csv(params.format)
    by_type = flag(params.token_type, "token_type")
    rows = await usage.report(query)
    if not as_csv:
        return reply(UsageReportOut.of(query, rows, by_type=by_type))
    name = f"usage-{query.start:%Y%m%d}-{query.end:%Y%m%d}.csv"
    return Response(
        to_csv(rows, query.group_by, by_token_type=by_type),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def flag(value: str | None, param: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidRequest(f"'{param}' must be true or false.", param=param)


def _as_csv(value: str | None) -> bool:
    text = (value or "json").strip().lower()
    if text not in ("json", "csv"):
        raise InvalidRequest("'format' must be json or csv.", param="format")
    return text == "csv"


def _moment(value: str | None, param: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(
            f"'{param}' must be an ISO 8601 date or date-time, such as 2025-01-01 or "
            "2025-01-01T12:00:00Z.",
            param=param,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _group_by(value: str | None) -> tuple[GroupBy, ...]:
    groups: list[GroupBy] = []
    for part in (value or "").split(","):
        if not part.strip():
            continue
        try:
            groups.append(GroupBy(part.strip().lower()))
        except ValueError:
            raise InvalidRequest(
                f"'group_by' is a comma-separated list of: {_GROUPS}.", param="group_by"
            ) from None
    return tuple(dict.fromkeys(groups))
