"""Each organization's traffic over the last minutes, in memory, for the console's live overview.

Month totals come from the database rollups; this is the per-process recent view, fed by the usage
writer with every stored batch. It keeps counts only (``UsageEvent`` holds no content by
construction) in fixed time buckets, so memory is bounded by ``window / bucket`` buckets per
organization whatever the traffic, and an organization without recent traffic disappears.

Threads: the usage writer calls ``observe`` through ``asyncio.to_thread`` (a worker thread) while
``snapshot`` runs on the event loop, so one lock guards the buckets. It is held only to add or sum
counts, never around I/O, so the event loop waits at most for one batch's additions.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.observability.logging import failure
from llmaas.ports.clock import Clock

_log = logging.getLogger("llmaas.usage")

_RATIO = 1.1
"""Latency slots grow by 10%: a percentile read at a slot's geometric middle is within 5%."""
_LOG_RATIO = math.log(_RATIO)
_LOG_SLOTS = math.ceil(math.log(600_000.0) / _LOG_RATIO)
"""Slots from 1 ms to 10 minutes (140); slot 0 holds < 1 ms, the last one everything slower."""
_ALL = None
"""The key of the all-organizations aggregate, which no organization id can collide with."""


def _slot(latency_ms: float) -> int:
    if latency_ms < 1.0:
        return 0
    return min(1 + int(math.log(latency_ms) / _LOG_RATIO), _LOG_SLOTS + 1)


def _middle(slot: int) -> float:
    if slot == 0:
        return 0.5
    return float(_RATIO ** min(slot - 0.5, _LOG_SLOTS))


@dataclass(frozen=True, slots=True)
class MinutePoint:
    minute: datetime
    requests: int
    failed: int


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    window_seconds: int
    requests: int
    requests_per_minute: int
    """The current, partial bucket and the whole ones before it that make up a minute: counts are
    kept per bucket, not per request, so this is the last 60 s to within one bucket."""
    error_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    series: tuple[MinutePoint, ...]


@dataclass(frozen=True, slots=True)
class _Sample:
    index: int
    organization_id: str
    failed: bool
    usage: TokenUsage
    latency_ms: float | None


class _Bucket:
    """Counts of one time bucket, plus the extremes that keep percentiles inside what was seen."""

    __slots__ = ("failed", "fastest", "latencies", "requests", "slowest", "tokens")

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.tokens = TokenUsage()
        self.latencies: dict[int, int] = {}
        self.fastest = math.inf
        self.slowest = -math.inf

    def add(self, sample: _Sample) -> None:
        self.requests += 1
        self.failed += sample.failed
        self.tokens += sample.usage
        if sample.latency_ms is not None:
            slot = _slot(sample.latency_ms)
            self.latencies[slot] = self.latencies.get(slot, 0) + 1
            self.fastest = min(self.fastest, sample.latency_ms)
            self.slowest = max(self.slowest, sample.latency_ms)


def _percentile(buckets: Sequence[_Bucket], histogram: dict[int, int], q: float) -> float | None:
    """Nearest rank over the merged slots, clamped to the extremes seen (exact for one value)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for slot in sorted(histogram):
        seen += histogram[slot]
        if seen >= rank:
            break
    fastest = min(bucket.fastest for bucket in buckets)
    slowest = max(bucket.slowest for bucket in buckets)
    return min(max(_middle(slot), fastest), slowest)


class LiveUsage:
    """A ``UsageObserver`` keeping the recent window per organization and for all of them.

    An error is an ``Outcome.FAILED`` request only: the gateway or its engine let the caller down.
    ``BLOCKED`` is the guardrail doing its job and ``CLIENT_DISCONNECTED`` is the caller leaving;
    counting them would raise the alarm for healthy service. Both still count as requests, and their
    latencies (like failures') join the percentiles, as in ``/metrics``, because clients waited through them.
    """

    def __init__(
        self, clock: Clock, *, window_seconds: int = 900, bucket_seconds: int = 10
    ) -> None:
        if bucket_seconds <= 0 or 60 % bucket_seconds:
            raise ValueError("bucket_seconds must divide a minute, so minutes are whole buckets")
        if window_seconds < 60 or window_seconds % 60:
            raise ValueError("window_seconds must be a positive number of whole minutes")
        self._clock = clock
        self._bucket_seconds = bucket_seconds
        self._window_minutes = window_seconds // 60
        self._lock = threading.Lock()
        self._buckets: dict[str | None, dict[int, _Bucket]] = {}
        self._kept_from = 0

    def observe(self, events: Sequence[UsageEvent]) -> None:
        now = self._seconds(self._clock.now())
        newest, oldest = self._index(now), self._first_index(now, self._window_minutes)
        samples = [sample for event in events if (sample := self._sample(event, newest))]
        with self._lock:
            self._prune(oldest)
            for sample in samples:
                if sample.index >= oldest:
                    self._add(sample.organization_id, sample)
                    self._add(_ALL, sample)

    def _add(self, key: str | None, sample: _Sample) -> None:
        self._buckets.setdefault(key, {}).setdefault(sample.index, _Bucket()).add(sample)

    def organizations(self) -> tuple[str, ...]:
        """Organizations with traffic in the window, for the overview to list."""
        with self._lock:
            self._prune(self._first_index(self._seconds(self._clock.now()), self._window_minutes))
            return tuple(sorted(key for key in self._buckets if key is not _ALL))

    def snapshot(self, organization_id: str | None, *, minutes: int = 15) -> LiveSnapshot:
        """``None`` is all organizations. ``minutes`` (capped to the window) spans every figure but
        ``requests_per_minute``: the current, partial minute and the whole ones before it, so the
        totals are the sum of the series the sparkline draws."""
        minutes = min(max(minutes, 1), self._window_minutes)
        now = self._seconds(self._clock.now())
        newest, first = self._index(now), self._first_index(now, minutes)
        per_minute = 60 // self._bucket_seconds
        with self._lock:
            self._prune(self._first_index(now, self._window_minutes))
            kept = self._buckets.get(organization_id, {})
            window = [bucket for index, bucket in kept.items() if first <= index <= newest]
            last_minute = sum(
                bucket.requests
                for index, bucket in kept.items()
                if newest - per_minute < index <= newest
            )
            series = tuple(self._minute(kept, first + m * per_minute) for m in range(minutes))
            return self._summary(minutes * 60, window, last_minute, series)

    def _summary(
        self,
        window_seconds: int,
        window: Sequence[_Bucket],
        last_minute: int,
        series: tuple[MinutePoint, ...],
    ) -> LiveSnapshot:
        requests = sum(bucket.requests for bucket in window)
        failed = sum(bucket.failed for bucket in window)
        tokens = sum((bucket.tokens for bucket in window), TokenUsage())
        timed = [bucket for bucket in window if bucket.latencies]
        histogram = _merge(bucket.latencies for bucket in timed)
        return LiveSnapshot(
            window_seconds=window_seconds,
            requests=requests,
            requests_per_minute=last_minute,
            error_rate=failed / requests if requests else 0.0,
            latency_p50_ms=_percentile(timed, histogram, 0.50),
            latency_p95_ms=_percentile(timed, histogram, 0.95),
            prompt_tokens=tokens.prompt_tokens,
            completion_tokens=tokens.completion_tokens,
            reasoning_tokens=tokens.reasoning_tokens,
            series=series,
        )

    def _minute(self, kept: dict[int, _Bucket], first: int) -> MinutePoint:
        inside = [kept[i] for i in range(first, first + 60 // self._bucket_seconds) if i in kept]
        return MinutePoint(
            minute=datetime.fromtimestamp(first * self._bucket_seconds, tz=UTC),
            requests=sum(bucket.requests for bucket in inside),
            failed=sum(bucket.failed for bucket in inside),
        )

    def _sample(self, event: UsageEvent, newest: int) -> _Sample | None:
        """One event's counts, or ``None`` for one that cannot be read: observers must not raise,
        and an unforeseen event costs that event, never the batch."""
        try:
            ended = event.occurred_at or self._clock.now()
            latency = float(event.latency_ms)
            return _Sample(
                # Clock skew must not park an event in a future bucket that no snapshot reads yet.
                index=min(self._index(self._seconds(ended)), newest),
                organization_id=str(event.organization_id),
                failed=event.outcome is Outcome.FAILED,
                usage=event.usage,
                # A NaN or infinity would poison every percentile of the window: counted, untimed.
                latency_ms=max(latency, 0.0) if math.isfinite(latency) else None,
            )
        except Exception as error:  # noqa: BLE001 - a metrics view must never stop metering
            _log.error("live usage skipped an event", extra=failure(error))
            return None

    def _prune(self, oldest: int) -> None:
        """Drop buckets older than the window; scans only when the window has moved."""
        if oldest <= self._kept_from:
            return
        self._kept_from = oldest
        for key in list(self._buckets):
            kept = {i: bucket for i, bucket in self._buckets[key].items() if i >= oldest}
            if kept:
                self._buckets[key] = kept
            else:
                del self._buckets[key]

    def _index(self, seconds: int) -> int:
        return seconds // self._bucket_seconds

    def _first_index(self, now: int, minutes: int) -> int:
        return (now - now % 60 - (minutes - 1) * 60) // self._bucket_seconds

    @staticmethod
    def _seconds(moment: datetime) -> int:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # naive times in this codebase are UTC
        return math.floor(moment.timestamp())


def _merge(histograms: Iterable[dict[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for histogram in histograms:
        for slot, count in histogram.items():
            merged[slot] = merged.get(slot, 0) + count
    return merged
