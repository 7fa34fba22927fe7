"""The live overview: rates, error rate, percentiles and series over a bounded recent window."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.services.live_usage import LiveUsage
from tests.unit.services.fakes import FakeClock

PRECISION = 1.05
"""Log slots grow by 10%: an estimate read at a slot's geometric middle is within ~4.9%."""


def event(
    clock: FakeClock,
    *,
    org: str = "acme",
    latency_ms: float = 100.0,
    outcome: Outcome = Outcome.OK,
    ago: float = 0.0,
    tokens: TokenUsage | None = None,
    occurred_at: datetime | None = None,
    stamped: bool = True,
) -> UsageEvent:
    when = occurred_at or clock.now() - timedelta(seconds=ago)
    return UsageEvent(
        request_id="r",
        key_id="k",
        model="m",
        deployment="d",
        endpoint="chat",
        usage=TokenUsage(10, 5, 2) if tokens is None else tokens,
        latency_ms=latency_ms,
        outcome=outcome,
        streamed=False,
        organization_id=org,
        occurred_at=when if stamped else None,
    )


def nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[max(1, math.ceil(q * len(values))) - 1]


def test_percentiles_match_a_known_distribution_within_the_histogram_precision() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    latencies = [float(ms) for ms in range(1, 1001)]
    live.observe([event(clock, latency_ms=ms, ago=ms % 600) for ms in latencies])
    snap = live.snapshot("acme")
    assert snap.requests == 1000
    assert snap.latency_p50_ms is not None
    assert snap.latency_p95_ms is not None
    assert 500 / PRECISION <= snap.latency_p50_ms <= 500 * PRECISION
    assert 950 / PRECISION <= snap.latency_p95_ms <= 950 * PRECISION


def test_error_rate_counts_failures_only_and_is_zero_without_traffic() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    outcomes = (
        [Outcome.OK] * 6 + [Outcome.FAILED] * 2 + [Outcome.BLOCKED, Outcome.CLIENT_DISCONNECTED]
    )
    live.observe([event(clock, outcome=outcome) for outcome in outcomes])
    assert live.snapshot("acme").error_rate == pytest.approx(0.2)
    empty = live.snapshot("nobody")
    assert (empty.requests, empty.error_rate) == (0, 0.0)
    assert (empty.latency_p50_ms, empty.latency_p95_ms) == (None, None)


def test_requests_per_minute_counts_only_the_last_60_seconds() -> None:
    clock = FakeClock()
    clock.advance(5)  # mid-bucket, as in real life
    live = LiveUsage(clock)
    live.observe([event(clock, ago=ago) for ago in (0, 3, 30, 50, 62, 70, 90, 300)])
    snap = live.snapshot("acme")
    assert snap.requests_per_minute == 4
    assert snap.requests == 8


def test_tokens_are_summed_over_the_window() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    live.observe([event(clock, tokens=TokenUsage(100, 40, 7), ago=ago) for ago in (1, 200, 800)])
    snap = live.snapshot("acme")
    assert (snap.prompt_tokens, snap.completion_tokens, snap.reasoning_tokens) == (300, 120, 21)


def test_old_buckets_and_quiet_organizations_are_dropped() -> None:
    clock = FakeClock()
    live = LiveUsage(clock, window_seconds=300, bucket_seconds=10)
    for _ in range(60):  # 20 minutes of steady traffic, 4 times the window
        live.observe([event(clock, org="acme"), event(clock, org="beta")])
        clock.advance(20)
    assert all(len(buckets) <= 300 // 10 for buckets in live._buckets.values())
    assert live.snapshot("acme").requests <= 15
    live.observe([event(clock, org="acme")])
    clock.advance(301)
    live.observe([event(clock, org="beta")])
    assert live.organizations() == ("beta",)
    assert live.snapshot("acme").requests == 0
    clock.advance(301)
    assert live.organizations() == ()
    assert live._buckets == {}


def test_events_older_than_the_window_are_ignored() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    live.observe([event(clock, ago=3600)])
    assert live.snapshot(None).requests == 0
    assert live.organizations() == ()


def test_the_global_aggregate_sums_the_organizations() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    live.observe([event(clock, org="acme", latency_ms=10.0, ago=a) for a in range(0, 50, 5)])
    live.observe([event(clock, org="beta", outcome=Outcome.FAILED, latency_ms=900.0, ago=100)] * 5)
    acme, beta, every = live.snapshot("acme"), live.snapshot("beta"), live.snapshot(None)
    assert every.requests == acme.requests + beta.requests == 15
    assert every.requests_per_minute == acme.requests_per_minute + beta.requests_per_minute
    assert every.prompt_tokens == acme.prompt_tokens + beta.prompt_tokens
    assert every.error_rate == pytest.approx(5 / 15)
    assert every.latency_p50_ms == pytest.approx(acme.latency_p50_ms, rel=PRECISION - 1)
    assert every.latency_p95_ms == pytest.approx(beta.latency_p95_ms, rel=PRECISION - 1)
    assert live.organizations() == ("acme", "beta")


def test_the_series_has_one_point_per_minute_with_zeros() -> None:
    clock = FakeClock()
    clock.advance(30)
    live = LiveUsage(clock)
    live.observe(
        [event(clock), event(clock, ago=20), event(clock, ago=185, outcome=Outcome.FAILED)]
    )
    snap = live.snapshot("acme", minutes=5)
    assert snap.window_seconds == 300
    minutes = [point.minute for point in snap.series]
    start = clock.now().replace(second=0) - timedelta(minutes=4)
    assert minutes == [start + timedelta(minutes=m) for m in range(5)]
    assert [(p.requests, p.failed) for p in snap.series] == [(0, 0), (1, 1), (0, 0), (0, 0), (2, 0)]
    assert sum(point.requests for point in snap.series) == snap.requests


def test_minutes_narrows_every_figure_and_is_capped_to_the_window() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    live.observe([event(clock, ago=10), event(clock, ago=400)])
    assert live.snapshot("acme", minutes=2).requests == 1
    wide = live.snapshot("acme", minutes=60)
    assert (wide.window_seconds, len(wide.series), wide.requests) == (900, 15, 2)


def test_observe_never_raises_on_odd_events() -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    live.observe([])
    live.observe(
        [
            event(clock, stamped=False),
            event(clock, latency_ms=0.0),
            event(clock, latency_ms=1e12),
            event(clock, latency_ms=-5.0),
            event(clock, latency_ms=math.nan),
            event(clock, latency_ms=math.inf),
            event(clock, occurred_at=clock.now().replace(tzinfo=None)),
            event(clock, occurred_at=clock.now() + timedelta(days=3)),
            event(clock, tokens=TokenUsage()),
        ]
    )
    snap = live.snapshot("acme")
    assert snap.requests == 9
    assert snap.requests_per_minute == 9
    p50, p95 = snap.latency_p50_ms, snap.latency_p95_ms
    assert p50 is not None
    assert p95 is not None
    assert 0.0 <= p50 <= p95 <= 1e12


def test_the_window_must_be_whole_minutes_of_whole_buckets() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="bucket_seconds"):
        LiveUsage(clock, bucket_seconds=7)
    with pytest.raises(ValueError, match="window_seconds"):
        LiveUsage(clock, window_seconds=90)


@settings(max_examples=200, deadline=None)
@given(
    samples=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=1e9, allow_nan=False),
            st.integers(min_value=0, max_value=840),  # the window: this minute and the 14 before
        ),
        min_size=1,
        max_size=200,
    )
)
def test_p50_and_p95_are_ordered_and_within_what_was_observed(
    samples: list[tuple[float, int]],
) -> None:
    clock = FakeClock()
    live = LiveUsage(clock)
    live.observe([event(clock, latency_ms=ms, ago=ago) for ms, ago in samples])
    snap = live.snapshot(None)
    latencies = [ms for ms, _ in samples]
    p50, p95 = snap.latency_p50_ms, snap.latency_p95_ms
    assert p50 is not None
    assert p95 is not None
    assert min(latencies) <= p50 <= p95 <= max(latencies)
    for estimate, q in ((p50, 0.50), (p95, 0.95)):
        exact = nearest_rank(latencies, q)
        if 1.0 <= exact <= 600_000.0:  # the log-scale slots' range
            assert exact / PRECISION <= estimate <= exact * PRECISION
