"""Consumption reports for operators (any grouping, CSV) and for a key about itself.

Reports read the pre-aggregated rollups, never the raw records. A key's own view adds the live counters
(this month's spend, the current rate windows), which are exact to the last settled request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from llmaas.domain.errors import InvalidRequest
from llmaas.domain.limits import Limits
from llmaas.domain.money import format_eur
from llmaas.domain.principals import Principal
from llmaas.domain.usage_reports import GroupBy, UsageQuery, UsageRow, month_start
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWorkFactory
from llmaas.services.admission import Admission

MAX_REPORT_DAYS = 400
TOKEN_TYPES = ("input", "output", "reasoning")


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """What a key may read about itself."""

    principal: Principal
    consumption: dict[str, int]
    month_start: datetime


class UsageReports:
    def __init__(self, unit_of_work: UnitOfWorkFactory, admission: Admission, clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._admission = admission
        self._clock = clock

    async def report(self, query: UsageQuery) -> list[UsageRow]:
        if query.end <= query.start:
            raise InvalidRequest("'end' must be after 'start'.", param="end")
        if query.end - query.start > timedelta(days=MAX_REPORT_DAYS):
            raise InvalidRequest(f"A report covers at most {MAX_REPORT_DAYS} days.", param="start")
        async with self._unit_of_work() as uow:
            return await uow.usage.report(query)

    async def key_status(self, principal: Principal) -> KeyStatus:
        return KeyStatus(
            principal=principal,
            consumption=await self._admission.consumption(principal),
            month_start=month_start(self._clock.now()),
        )

    def this_month(self) -> tuple[datetime, datetime]:
        start = month_start(self._clock.now())
        return start, (start + timedelta(days=32)).replace(day=1)


def remaining(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def limits_view(limits: Limits, consumption: dict[str, int], scope: str) -> dict[str, object]:
    """Each limit with what is used of it in its current window, for the self-service endpoint."""
    view: dict[str, object] = {}
    for name, limit in limits.as_dict().items():
        used = consumption.get(f"{scope}.{name}")
        view[name] = {"limit": limit, "used": used, "remaining": remaining(limit, used or 0)}
    return view


def to_csv(rows: Sequence[UsageRow], group_by: Sequence[GroupBy], *, by_token_type: bool) -> str:
    """One line per group, or per group and token type (``input``/``output``/``reasoning``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    groups = [g.value for g in group_by]
    if by_token_type:
        writer.writerow([*groups, "token_type", "tokens"])
        for row in rows:
            keys = [row.group.get(g, "") for g in groups]
            totals = row.totals
            visible_output = totals.completion_tokens - totals.reasoning_tokens
            for token_type, tokens in zip(
                TOKEN_TYPES,
                (totals.prompt_tokens, visible_output, totals.reasoning_tokens),
                strict=True,
            ):
                writer.writerow([*keys, token_type, tokens])
        return out.getvalue()
    writer.writerow(
        [
            *groups,
            "requests",
            "failed_requests",
            "input_tokens",
            "output_tokens",
            "reasoning_tokens",
            "audio_seconds",
            "cost_eur",
        ]
    )
    for row in rows:
        totals = row.totals
        writer.writerow(
            [
                *(row.group.get(g, "") for g in groups),
                totals.requests,
                totals.failed_requests,
                totals.prompt_tokens,
                totals.completion_tokens,
                totals.reasoning_tokens,
                f"{totals.audio_ms / 1000:.3f}",
                format_eur(totals.cost_micros),
            ]
        )
    return out.getvalue()
