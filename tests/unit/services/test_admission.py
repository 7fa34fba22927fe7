"""Admission reserves the worst case against every limit, atomically, and settles to the truth."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.errors import InvalidApiKey, QuotaExceeded, RateLimitExceeded
from llmaas.domain.limits import Limits
from llmaas.domain.principals import Principal
from llmaas.domain.quotas import Consumption, Demand, Dimension
from llmaas.domain.usage_reports import SpendTotals
from llmaas.services.admission import Admission
from tests.unit.services.fakes import FakeClock

CALLER = Principal(key_id="key1", key_name="app", organization_id="acme")


def admission(clock: FakeClock | None = None) -> tuple[Admission, MemoryCounters]:
    counters = MemoryCounters()
    return Admission(counters, clock or FakeClock()), counters


async def spend(admission: Admission, principal: Principal = CALLER) -> dict[str, int]:
    await admission.drain()
    return await admission.consumption(principal)


async def test_an_admitted_request_is_settled_to_what_it_consumed() -> None:
    adm, _ = admission()
    reservation = await adm.admit(CALLER, "r1", Demand(100, 50, 1_000))
    assert (await adm.consumption(CALLER))["key.monthly_budget_micros"] == 1_000
    adm.settle(reservation, Consumption(40, 10, 300))
    used = await spend(adm)
    assert used["key.monthly_budget_micros"] == 300
    assert used["organization.monthly_budget_micros"] == 300
    assert used["organization.credit_spent_micros"] == 300


async def test_a_failed_request_releases_its_reservation_but_still_counts_as_a_request() -> None:
    principal = replace(CALLER, key_limits=Limits(requests_per_minute=5, tokens_per_minute=10_000))
    adm, _ = admission()
    reservation = await adm.admit(principal, "r1", Demand(100, 50, 1_000))
    adm.settle(reservation, Consumption())
    adm.settle(reservation, Consumption(100, 50, 1_000))  # a second settlement is ignored
    used = await spend(adm, principal)
    assert used["key.monthly_budget_micros"] == 0
    assert used["key.tokens_per_minute"] == 0
    assert used["key.requests_per_minute"] == 1


async def test_requests_per_minute_refuse_with_the_window_and_a_retry_delay() -> None:
    clock = FakeClock()  # 09:00:00 UTC
    clock.advance(20)
    principal = replace(CALLER, key_limits=Limits(requests_per_minute=2))
    adm, _ = admission(clock)
    first = await adm.admit(principal, "r1", Demand(1, 1, 1))
    assert first.status.requests is not None
    assert (first.status.requests.limit, first.status.requests.remaining) == (2, 1)
    assert first.status.requests.reset_seconds == 40
    await adm.admit(principal, "r2", Demand(1, 1, 1))
    with pytest.raises(RateLimitExceeded) as refused:
        await adm.admit(principal, "r3", Demand(1, 1, 1))
    assert refused.value.dimension is Dimension.REQUESTS_PER_MINUTE
    assert refused.value.retry_after == 40
    assert "limit 2, used 2, requested 1" in refused.value.message
    clock.advance(40)  # the next minute starts afresh
    await adm.admit(principal, "r4", Demand(1, 1, 1))


async def test_the_organization_limit_applies_across_its_keys() -> None:
    limits = Limits(tokens_per_minute=1_000)
    adm, _ = admission()
    a = replace(CALLER, key_id="a", organization_limits=limits)
    b = replace(CALLER, key_id="b", organization_limits=limits)
    await adm.admit(a, "r1", Demand(400, 200, 1))
    with pytest.raises(RateLimitExceeded) as refused:
        await adm.admit(b, "r2", Demand(400, 200, 1))
    assert refused.value.dimension is Dimension.TOKENS_PER_MINUTE
    assert "organization (acme)" in refused.value.message


async def test_a_refusal_charges_nothing_anywhere() -> None:
    principal = replace(
        CALLER, key_limits=Limits(monthly_budget_micros=10_000, output_tokens_per_hour=100)
    )
    adm, _ = admission()
    with pytest.raises(RateLimitExceeded):
        await adm.admit(principal, "r1", Demand(10, 500, 100))
    used = await adm.consumption(principal)
    assert set(used.values()) == {0}


async def test_budget_and_credit_refusals_are_insufficient_quota() -> None:
    adm, _ = admission()
    capped = replace(CALLER, key_limits=Limits(monthly_budget_micros=1_000))
    with pytest.raises(QuotaExceeded) as budget:
        await adm.admit(capped, "r1", Demand(10, 10, 1_001))
    assert budget.value.dimension is Dimension.MONTHLY_BUDGET
    assert budget.value.retry_after is not None
    prepaid = replace(CALLER, credit_micros=500)
    with pytest.raises(QuotaExceeded) as credit:
        await adm.admit(prepaid, "r2", Demand(10, 10, 501))
    assert credit.value.dimension is Dimension.PREPAID_CREDIT
    assert credit.value.retry_after is None
    assert "0.0005 EUR" in credit.value.message


async def test_concurrency_slots_are_held_until_settlement() -> None:
    principal = replace(CALLER, key_limits=Limits(max_concurrent_requests=2))
    adm, _ = admission()
    first = await adm.admit(principal, "r1", Demand(1, 1, 1))
    await adm.admit(principal, "r2", Demand(1, 1, 1))
    with pytest.raises(RateLimitExceeded) as refused:
        await adm.admit(principal, "r3", Demand(1, 1, 1))
    assert refused.value.dimension is Dimension.CONCURRENT_REQUESTS
    adm.settle(first, Consumption(1, 1, 1))
    await adm.drain()
    await adm.admit(principal, "r4", Demand(1, 1, 1))


async def test_a_revoked_key_is_refused_by_admission() -> None:
    adm, _ = admission()
    await adm.revoke(CALLER.key_id)
    with pytest.raises(InvalidApiKey):
        await adm.admit(CALLER, "r1", Demand(1, 1, 1))


async def test_restored_spend_counts_against_the_budget() -> None:
    principal = replace(CALLER, key_limits=Limits(monthly_budget_micros=1_000))
    adm, _ = admission()
    await adm.restore(SpendTotals(key_month={"key1": 990}, organization_all_time={"acme": 5}))
    with pytest.raises(QuotaExceeded):
        await adm.admit(principal, "r1", Demand(1, 1, 11))
    await adm.admit(principal, "r2", Demand(1, 1, 10))
    # Seeding never overwrites what is already counted.
    await adm.restore(SpendTotals(key_month={"key1": 0}))
    assert (await adm.consumption(principal))["key.monthly_budget_micros"] == 1_000


async def test_concurrent_requests_never_overspend_a_budget() -> None:
    per_request, admissible = 3_700, 7
    principal = replace(CALLER, key_limits=Limits(monthly_budget_micros=per_request * admissible))
    adm, _ = admission()

    async def one(index: int) -> bool:
        try:
            reservation = await adm.admit(principal, f"r{index}", Demand(10, 10, per_request))
        except QuotaExceeded:
            return False
        await asyncio.sleep(0)
        adm.settle(reservation, Consumption(10, 10, per_request))
        return True

    admitted = await asyncio.gather(*(one(i) for i in range(100)))
    assert sum(admitted) == admissible
    assert (await spend(adm, principal))["key.monthly_budget_micros"] == per_request * admissible


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5_000), st.integers(0, 100), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
async def test_settlement_never_loses_or_invents_a_micro(
    requests: list[tuple[int, int, bool]],
) -> None:
    budget = 40_000
    principal = replace(CALLER, key_limits=Limits(monthly_budget_micros=budget))
    adm, _ = admission()
    charged = 0
    for index, (reserved, percent_used, fails) in enumerate(requests):
        try:
            reservation = await adm.admit(principal, f"r{index}", Demand(1, 1, reserved))
        except QuotaExceeded:
            continue
        actual = 0 if fails else reserved * percent_used // 100
        adm.settle(reservation, Consumption(1, 1, actual))
        charged += actual
    used = await spend(adm, principal)
    assert used["key.monthly_budget_micros"] == charged
    assert used["organization.credit_spent_micros"] == charged
    assert charged <= budget
