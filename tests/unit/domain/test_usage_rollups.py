from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.domain.usage_reports import Granularity, bucket_start, rollups

moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


def event(moment: datetime, key: str, tokens: int) -> UsageEvent:
    return UsageEvent(
        request_id="r",
        key_id=key,
        organization_id="o",
        model="m",
        deployment="d",
        endpoint="chat.completions",
        usage=TokenUsage(tokens, 1),
        latency_ms=1.0,
        outcome=Outcome.OK,
        streamed=False,
        cost_micros=tokens,
        occurred_at=moment,
    )


@given(st.lists(st.tuples(moments, st.sampled_from("ab"), st.integers(0, 1000)), max_size=30))
def test_every_event_lands_in_its_minute_hour_and_day_exactly_once(
    items: list[tuple[datetime, str, int]],
) -> None:
    rows = rollups(event(*item) for item in items)
    for granularity in Granularity:
        expected: dict[tuple[datetime, str], int] = {}
        for moment, key, tokens in items:
            bucket = (bucket_start(moment, granularity), key)
            expected[bucket] = expected.get(bucket, 0) + tokens
        found = {
            (k.bucket_start, k.key_id): totals.prompt_tokens
            for k, totals in rows.items()
            if k.granularity is granularity
        }
        assert found == expected


def test_a_moment_in_another_time_zone_is_bucketed_in_utc() -> None:
    paris = datetime(2026, 11, 26, 0, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    (day,) = [k for k in rollups([event(paris, "a", 1)]) if k.granularity is Granularity.DAY]
    assert day.bucket_start == datetime(2026, 11, 26, tzinfo=UTC)
    assert day.bucket_start + timedelta(days=1) > paris
