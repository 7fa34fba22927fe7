"""Usage rollups and report queries.

Raw usage records are written once and never scanned by reports: each batch is folded into per-minute,
per-hour and per-day rollups keyed by (organization, key, model), and every report reads those. A month
of traffic is at most 31 daily rows per key and model, whatever the request volume.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from llmaas.domain.usage import Outcome, UsageEvent


class Granularity(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


def bucket_start(moment: datetime, granularity: Granularity) -> datetime:
    moment = moment.astimezone(UTC)
    if granularity is Granularity.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if granularity is Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: datetime) -> datetime:
    return bucket_start(moment, Granularity.DAY).replace(day=1)


@dataclass(frozen=True, slots=True)
class RollupKey:
    granularity: Granularity
    bucket_start: datetime
    organization_id: str
    key_id: str
    model: str


@dataclass(slots=True)
class RollupTotals:
    requests: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    audio_ms: int = 0
    cost_micros: int = 0
    latency_ms_total: int = 0

    def add_event(self, event: UsageEvent) -> None:
        self.requests += 1
        self.failed_requests += event.outcome is Outcome.FAILED
        self.prompt_tokens += event.usage.prompt_tokens
        self.completion_tokens += event.usage.completion_tokens
        self.reasoning_tokens += event.usage.reasoning_tokens
        self.audio_ms += event.audio_ms
        self.cost_micros += event.cost_micros
        self.latency_ms_total += round(event.latency_ms)

    def add(self, other: RollupTotals) -> None:
        for name in RollupTotals.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_SECONDS = ((Granularity.MINUTE, 60), (Granularity.HOUR, 3_600), (Granularity.DAY, 86_400))
"""UTC buckets are whole multiples of their length since the epoch (POSIX time has no leap seconds)."""


def rollups(events: Iterable[UsageEvent]) -> dict[RollupKey, RollupTotals]:
    """Fold a batch of events into one row per bucket, so storage does one upsert per row.

    Events are summed per minute first, with integer arithmetic, and the hour and day rows are built
    from those sums: a batch's events mostly share a few minutes, so the per-event work stays small.
    """
    minutes: dict[tuple[str, str, str, int], RollupTotals] = {}
    for event in events:
        assert event.occurred_at is not None, "metering stamps every event"
        minute = int(event.occurred_at.timestamp()) // 60 * 60
        group = (event.organization_id, event.key_id, event.model, minute)
        totals = minutes.get(group)
        if totals is None:
            totals = minutes[group] = RollupTotals()
        totals.add_event(event)
    rows: dict[RollupKey, RollupTotals] = {}
    for (organization_id, key_id, model, minute), totals in minutes.items():
        for granularity, length in _SECONDS:
            start = datetime.fromtimestamp(minute // length * length, UTC)
            key = RollupKey(granularity, start, organization_id, key_id, model)
            rows.setdefault(key, RollupTotals()).add(totals)
    return rows


class GroupBy(StrEnum):
    ORGANIZATION = "organization"
    KEY = "key"
    MODEL = "model"
    DAY = "day"
    HOUR = "hour"


@dataclass(frozen=True, slots=True)
class UsageQuery:
    start: datetime
    end: datetime
    """Half-open interval ``[start, end)`` on bucket starts."""
    group_by: tuple[GroupBy, ...] = ()
    organization_id: str | None = None
    key_id: str | None = None
    model: str | None = None

    @property
    def granularity(self) -> Granularity:
        return Granularity.HOUR if GroupBy.HOUR in self.group_by else Granularity.DAY


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: dict[str, str]
    """One entry per ``group_by`` field (``day``/``hour`` as ISO timestamps)."""
    totals: RollupTotals


@dataclass(frozen=True, slots=True)
class SpendTotals:
    key_month: dict[str, int] = field(default_factory=dict)
    organization_month: dict[str, int] = field(default_factory=dict)
    organization_all_time: dict[str, int] = field(default_factory=dict)
