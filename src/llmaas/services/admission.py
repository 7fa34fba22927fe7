"""Stage 2 of the pipeline: admit a request by reserving the most it can cost, then settle.

Before a request reaches an engine, its worst case (counted prompt tokens plus every output token it
may generate, and their price) is charged against every window and budget that applies to its key and
organization, in one atomic step of the counters port: either everything fits and is reserved, or
nothing is charged and the request is refused. Concurrent requests therefore cannot overspend a budget
between them, whatever the number of gateway instances. Once the response is done, the reservation is
settled to what was actually consumed (and released entirely on an engine failure).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from llmaas.domain.errors import (
    CountersUnavailable,
    InvalidApiKey,
    QuotaExceeded,
    RateLimitExceeded,
)
from llmaas.domain.limits import Limits
from llmaas.domain.money import format_eur
from llmaas.domain.principals import Principal
from llmaas.domain.quotas import (
    Consumption,
    Demand,
    Dimension,
    LimitState,
    RateLimitStatus,
)
from llmaas.domain.usage_reports import SpendTotals
from llmaas.domain.windows import Window, WindowSpan, span
from llmaas.ports.clock import Clock
from llmaas.ports.counters import Counters, ReserveResult, SlotClaim, WindowCharge
from llmaas.services.settlement import Settlements

REVOCATION_FLAG_SECONDS = 86_400
"""Long enough for every instance to have re-read the key's record (which says revoked) meanwhile."""


class _Amount:
    """Which part of a demand a counter is charged with."""

    REQUESTS = 0
    TOKENS = 1
    OUTPUT = 2
    COST = 3


@dataclass(frozen=True, slots=True)
class _WindowSpec:
    dimension: Dimension
    name: str
    window: Window
    limit_field: str
    amount: int
    always: bool = False
    """Counted even without a limit, so consumption can be shown (spend)."""


_WINDOWS = (
    _WindowSpec(
        Dimension.REQUESTS_PER_MINUTE, "rpm", Window.MINUTE, "requests_per_minute", _Amount.REQUESTS
    ),
    _WindowSpec(
        Dimension.TOKENS_PER_MINUTE, "tpm", Window.MINUTE, "tokens_per_minute", _Amount.TOKENS
    ),
    _WindowSpec(
        Dimension.OUTPUT_TOKENS_PER_HOUR,
        "oph",
        Window.HOUR,
        "output_tokens_per_hour",
        _Amount.OUTPUT,
    ),
    _WindowSpec(
        Dimension.OUTPUT_TOKENS_PER_DAY, "opd", Window.DAY, "output_tokens_per_day", _Amount.OUTPUT
    ),
    _WindowSpec(
        Dimension.MONTHLY_BUDGET,
        "spend",
        Window.MONTH,
        "monthly_budget_micros",
        _Amount.COST,
        always=True,
    ),
)


@dataclass(frozen=True, slots=True)
class _Planned:
    charge: WindowCharge
    dimension: Dimension
    scope: str
    amount: int
    ends_at: float


@dataclass(frozen=True, slots=True)
class _PlannedSlot:
    claim: SlotClaim
    scope: str


@dataclass(slots=True)
class Reservation:
    """What one admitted request holds until it is settled."""

    request_id: str
    demand: Demand
    counters: tuple[tuple[str, int], ...]
    """``(counter key, amount kind)`` of every charge, to settle each by the right difference."""
    slots: tuple[tuple[str, str], ...]
    status: RateLimitStatus
    settled: bool = False


def key_counter(key_id: str, name: str, label: str) -> str:
    return f"k:{key_id}:{name}:{label}"


def organization_counter(organization_id: str, name: str, label: str) -> str:
    return f"o:{organization_id}:{name}:{label}"


SEEDED_MARKER = "seeded"
"""Exists while the counters hold the stored spend; a Redis restarted empty has lost it."""
_UNSEEDED = (
    "Rate limits and budgets are being restored after the shared counters restarted; retry shortly."
)


def revocation_flag(key_id: str) -> str:
    return f"revoked:{key_id}"


class Admission:
    def __init__(self, counters: Counters, clock: Clock, *, lease_seconds: int = 900) -> None:
        self._counters = counters
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._settlements = Settlements(counters)
        self._spans_second = -1
        self._spans: tuple[WindowSpan, ...] = ()

    async def admit(self, principal: Principal, request_id: str, demand: Demand) -> Reservation:
        now = self._clock.now().timestamp()
        planned = list(self._plan(principal, demand, now))
        slots = list(self._slots(principal, request_id))
        result = await self._counters.reserve(
            [p.charge for p in planned],
            [s.claim for s in slots],
            revocation_flag=revocation_flag(principal.key_id),
            seeded_marker=SEEDED_MARKER,
        )
        if result.revoked:
            raise InvalidApiKey("This API key has been revoked or has expired.")
        if result.unseeded:
            raise CountersUnavailable(_UNSEEDED)
        status = _status(planned, result, now)
        if not result.admitted:
            raise _refusal(principal, demand, planned, slots, result, status, now)
        return Reservation(
            request_id=request_id,
            demand=demand,
            counters=tuple((p.charge.key, p.amount) for p in planned),
            slots=tuple((s.claim.key, s.claim.lease_id) for s in slots),
            status=status,
        )

    def settle(self, reservation: Reservation, actual: Consumption) -> None:
        """Return the unused part of the reservation and free its slots, exactly once, without
        holding up the response (see ``settlement.py``)."""
        if reservation.settled:
            return
        reservation.settled = True
        demand = reservation.demand
        differences = (
            0,
            actual.tokens - demand.tokens,
            actual.output_tokens - demand.output_tokens,
            actual.cost_micros - demand.cost_micros,
        )
        deltas = [
            (key, differences[amount])
            for key, amount in reservation.counters
            if differences[amount] != 0
        ]
        self._settlements.submit(deltas, reservation.slots)

    async def drain(self) -> None:
        """Wait for settlements in flight (graceful shutdown)."""
        await self._settlements.drain()

    async def revoke(self, key_id: str) -> None:
        """Make every instance refuse the key from its next request on."""
        await self._counters.set_flag(revocation_flag(key_id), REVOCATION_FLAG_SECONDS)

    async def seeded(self) -> bool:
        """Whether the counters hold the stored spend (``restore`` ran since they were last wiped)."""
        (marker,) = await self._counters.read([SEEDED_MARKER])
        return bool(marker)

    async def restore(self, totals: SpendTotals) -> None:
        """Seed spend counters from stored usage (a restarted process, a flushed Redis), where they do
        not exist yet, so a restart never hands a customer a fresh budget. The seeded marker goes last:
        until it exists, admission refuses (503) rather than count on empty counters."""
        now = self._clock.now().timestamp()
        month = span(Window.MONTH, now)
        values: list[tuple[str, int, int | None]] = []
        for key_id, micros in totals.key_month.items():
            values.append((key_counter(key_id, "spend", month.label), micros, month.ttl_seconds))
        for org_id, micros in totals.organization_month.items():
            values.append(
                (organization_counter(org_id, "spend", month.label), micros, month.ttl_seconds)
            )
        for org_id, micros in totals.organization_all_time.items():
            values.append((organization_counter(org_id, "spend", "all"), micros, None))
        await self._counters.seed([*values, (SEEDED_MARKER, 1, None)])

    async def status(self, principal: Principal) -> RateLimitStatus:
        """The caller's rate windows without charging anything (for calls that consume nothing);
        like admission, it refuses a key revoked on any instance."""
        now = self._clock.now().timestamp()
        planned = [
            p
            for p in self._plan(principal, Demand(0, 0, 0), now)
            if p.dimension in (Dimension.REQUESTS_PER_MINUTE, Dimension.TOKENS_PER_MINUTE)
            and p.charge.limit is not None
        ]
        flag, *values = await self._counters.read(
            [revocation_flag(principal.key_id), *(p.charge.key for p in planned)]
        )
        if flag:
            raise InvalidApiKey("This API key has been revoked or has expired.")
        return _status(planned, ReserveResult(admitted=True, values=tuple(values)), now)

    async def consumption(self, principal: Principal) -> dict[str, int]:
        """Current counter values of the caller's windows and budgets (for self-service reads)."""
        spans = self._current_spans(self._clock.now().timestamp())
        names: list[str] = []
        keys: list[str] = []
        for spec, window in zip(_WINDOWS, spans, strict=True):
            label = window.label
            names += [f"key.{spec.limit_field}", f"organization.{spec.limit_field}"]
            keys += [
                key_counter(principal.key_id, spec.name, label),
                organization_counter(principal.organization_id, spec.name, label),
            ]
        names.append("organization.credit_spent_micros")
        keys.append(organization_counter(principal.organization_id, "spend", "all"))
        flag, *values = await self._counters.read([revocation_flag(principal.key_id), *keys])
        if flag:
            raise InvalidApiKey("This API key has been revoked or has expired.")
        return dict(zip(names, values, strict=True))

    async def credit_spent(self, organization_ids: Sequence[str]) -> dict[str, int]:
        """All-time spend per organization, which prepaid credit is drawn down by (admin reads):
        one round trip for a whole list, exact to the last settled request."""
        keys = [organization_counter(org, "spend", "all") for org in organization_ids]
        values = await self._counters.read(keys) if keys else ()
        return dict(zip(organization_ids, values, strict=True))

    async def organization_spend(self, organization_id: str) -> tuple[int, int]:
        """One organization's spend this month and all time (the console's overview), exact to the
        last settled request on any instance."""
        month = span(Window.MONTH, self._clock.now().timestamp())
        this_month, all_time = await self._counters.read(
            [
                organization_counter(organization_id, "spend", month.label),
                organization_counter(organization_id, "spend", "all"),
            ]
        )
        return this_month, all_time

    def _current_spans(self, now: float) -> tuple[WindowSpan, ...]:
        """The windows of this second, computed once per second rather than once per request."""
        second = int(now)
        if second != self._spans_second:
            self._spans = tuple(span(spec.window, now) for spec in _WINDOWS)
            self._spans_second = second
        return self._spans

    def _plan(self, principal: Principal, demand: Demand, now: float) -> Iterator[_Planned]:
        amounts = (1, demand.tokens, demand.output_tokens, demand.cost_micros)
        spans = self._current_spans(now)
        for scope, limits in (
            ("key", principal.key_limits),
            ("organization", principal.organization_limits),
        ):
            for index, spec, limit in _applicable(limits):
                window = spans[index]
                yield _Planned(
                    WindowCharge(
                        self._counter(principal, scope, spec.name, window.label),
                        amounts[spec.amount],
                        limit,
                        window.ttl_seconds,
                    ),
                    spec.dimension,
                    scope,
                    spec.amount,
                    window.ends_at,
                )
        yield _Planned(
            WindowCharge(
                organization_counter(principal.organization_id, "spend", "all"),
                demand.cost_micros,
                principal.credit_micros,
                None,
            ),
            Dimension.PREPAID_CREDIT,
            "organization",
            _Amount.COST,
            float("inf"),
        )

    def _slots(self, principal: Principal, request_id: str) -> Iterator[_PlannedSlot]:
        for scope, limits in (
            ("key", principal.key_limits),
            ("organization", principal.organization_limits),
        ):
            limit = limits.max_concurrent_requests
            if limit is not None:
                yield _PlannedSlot(
                    SlotClaim(
                        self._counter(principal, scope, "slots", "now"),
                        limit,
                        request_id,
                        self._lease_seconds,
                    ),
                    scope,
                )

    @staticmethod
    def _counter(principal: Principal, scope: str, name: str, label: str) -> str:
        if scope == "key":
            return key_counter(principal.key_id, name, label)
        return organization_counter(principal.organization_id, name, label)


@functools.lru_cache(maxsize=4096)
def _applicable(limits: Limits) -> tuple[tuple[int, _WindowSpec, int | None], ...]:
    """The windows a set of limits charges (limited ones, and spend, which is always counted):
    a handful of distinct ``Limits`` serve every request, so this is worked out once for each."""
    return tuple(
        (index, spec, getattr(limits, spec.limit_field))
        for index, spec in enumerate(_WINDOWS)
        if spec.always or getattr(limits, spec.limit_field) is not None
    )


def _status(planned: list[_Planned], result: ReserveResult, now: float) -> RateLimitStatus:
    return RateLimitStatus(
        requests=_tightest(planned, result, Dimension.REQUESTS_PER_MINUTE, now),
        tokens=_tightest(planned, result, Dimension.TOKENS_PER_MINUTE, now),
    )


def _tightest(
    planned: list[_Planned], result: ReserveResult, dimension: Dimension, now: float
) -> LimitState | None:
    best: LimitState | None = None
    for index, item in enumerate(planned):
        limit = item.charge.limit
        if item.dimension is not dimension or limit is None or index >= len(result.values):
            continue
        state = LimitState(limit, max(0, limit - result.values[index]), item.ends_at - now)
        if best is None or state.remaining < best.remaining:
            best = state
    return best


def _refusal(
    principal: Principal,
    demand: Demand,
    planned: list[_Planned],
    slots: list[_PlannedSlot],
    result: ReserveResult,
    status: RateLimitStatus,
    now: float,
) -> RateLimitExceeded | QuotaExceeded:
    index = result.refused_at if result.refused_at is not None else 0
    if index >= len(planned):
        slot = slots[index - len(planned)]
        return RateLimitExceeded(
            f"Too many concurrent requests for this {_owner(principal, slot.scope)} "
            f"(limit {slot.claim.limit}). Retry when one of them has finished.",
            dimension=Dimension.CONCURRENT_REQUESTS,
            retry_after=1.0,
            status=status,
        )
    item = planned[index]
    seconds_left = item.ends_at - now
    limit = item.charge.limit or 0
    used = result.values[index] if index < len(result.values) else 0
    owner = _owner(principal, item.scope)
    if item.dimension.is_rate:
        return RateLimitExceeded(
            f"Rate limit reached for {item.dimension} on this {owner}: limit {limit}, "
            f"used {used}, requested {item.charge.amount}. "
            f"Please try again in {_seconds(seconds_left)}s.",
            dimension=item.dimension,
            retry_after=seconds_left,
            status=status,
        )
    retry = None if item.dimension is Dimension.PREPAID_CREDIT else seconds_left
    return QuotaExceeded(
        f"You exceeded the {item.dimension} of this {owner}: {format_eur(limit)} EUR, "
        f"{format_eur(used)} EUR used, and this request may cost up to "
        f"{format_eur(demand.cost_micros)} EUR. "
        + (
            "Buy more credit to continue."
            if item.dimension is Dimension.PREPAID_CREDIT
            else "Raise the budget or wait for next month."
        ),
        dimension=item.dimension,
        retry_after=retry,
        status=status,
    )


def _owner(principal: Principal, scope: str) -> str:
    if scope == "key":
        return f"API key ({principal.key_id})"
    return f"organization ({principal.organization_id})"


def _seconds(value: float) -> int:
    return max(1, int(value + 0.999))
