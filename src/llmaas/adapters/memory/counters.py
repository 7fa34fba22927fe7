"""Counters kept in this process's memory: the single-instance default and the fake for tests.

Why no lock: asyncio switches tasks only at ``await``, and no method here awaits, so every call runs
to its end before another starts, which gives the same all-or-nothing reserve as the Redis script.

Why the shapes below: this sits on the hot path of every request, so a counter is one mutable
record behind one dict lookup, and an expired one is simply treated as absent (the next charge
recreates it). Expired records and lapsed leases are swept now and then, at a cost proportional to
the operations since the last sweep, so memory stays bounded by the live entries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from llmaas.ports.counters import ReserveResult, SlotClaim, WindowCharge

_FOREVER = math.inf
_SWEEP_EVERY = 1024
"""Operations between two sweeps at least; more when there are more entries, to amortise them."""


class _Counter:
    __slots__ = ("deadline", "value")

    def __init__(self, value: int, deadline: float) -> None:
        self.value = value
        self.deadline = deadline
        """When it stops existing, as if deleted; ``_FOREVER`` without a TTL."""


class _Slots:
    """The leases under one slot key: lease id -> expiry."""

    __slots__ = ("leases", "next_expiry")

    def __init__(self) -> None:
        self.leases: dict[str, float] = {}
        self.next_expiry = _FOREVER
        """At or before the earliest lease expiry: until then no lease can be stale, so counting
        the leases is ``len`` and not a scan."""

    def taken(self, now: float) -> int:
        if self.next_expiry <= now:
            self.drop_lapsed(now)
        return len(self.leases)

    def claim(self, lease_id: str, expiry: float) -> int:
        self.leases[lease_id] = expiry
        self.next_expiry = min(self.next_expiry, expiry)
        return len(self.leases)

    def drop_lapsed(self, now: float) -> None:
        self.leases = {lease: expiry for lease, expiry in self.leases.items() if expiry > now}
        self.next_expiry = min(self.leases.values(), default=_FOREVER)


class MemoryCounters:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._counters: dict[str, _Counter] = {}
        """Window counters, budgets and flags alike (one key space, as in Redis)."""
        self._slots: dict[str, _Slots] = {}
        self._until_sweep = _SWEEP_EVERY

    async def reserve(
        self,
        charges: Sequence[WindowCharge],
        slots: Sequence[SlotClaim] = (),
        *,
        revocation_flag: str | None = None,
        seeded_marker: str | None = None,
    ) -> ReserveResult:
        now = self._tick()
        if revocation_flag is not None and self._live(revocation_flag, now) is not None:
            return ReserveResult(admitted=False, revoked=True)
        # ``seeded_marker`` is ignored: these counters cannot be wiped while the process lives, and
        # a new process restores them before it serves.
        refused_at, current = self._measure(charges, slots, now)
        if refused_at is not None:
            return ReserveResult(admitted=False, refused_at=refused_at, values=tuple(current))
        return ReserveResult(admitted=True, values=self._take(charges, slots, now))

    async def adjust(
        self, deltas: Sequence[tuple[str, int]], released_slots: Sequence[tuple[str, str]] = ()
    ) -> None:
        now = self._tick()
        counters = self._counters
        for key, delta in deltas:
            counter = counters.get(key)
            if counter is not None and counter.deadline > now:
                counter.value += delta
        for key, lease_id in released_slots:
            slot = self._slots.get(key)
            if slot is not None and slot.leases.pop(lease_id, None) is not None and not slot.leases:
                del self._slots[key]

    async def read(self, keys: Sequence[str]) -> tuple[int, ...]:
        now = self._tick()
        return tuple(_value(self._live(key, now)) for key in keys)

    async def seed(self, values: Sequence[tuple[str, int, int | None]]) -> None:
        now = self._tick()
        for key, value, ttl_seconds in values:
            if self._live(key, now) is None:
                self._counters[key] = _Counter(value, _deadline(now, ttl_seconds))

    async def set_flag(self, key: str, ttl_seconds: int) -> None:
        self._counters[key] = _Counter(1, self._tick() + ttl_seconds)

    async def clear_flag(self, key: str) -> None:
        self._counters.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._counters.clear()
        self._slots.clear()

    def _measure(
        self, charges: Sequence[WindowCharge], slots: Sequence[SlotClaim], now: float
    ) -> tuple[int | None, list[int]]:
        """The current value of every counter and slot, and the index of the first that would not
        fit; everything is measured, so a refusal can report every figure."""
        # The lookups are inlined (not self._live): this loop runs for every request.
        counters = self._counters
        refused_at: int | None = None
        values: list[int] = []
        for charge in charges:
            counter = counters.get(charge.key)
            current = counter.value if counter is not None and counter.deadline > now else 0
            limit = charge.limit
            if refused_at is None and limit is not None and current + charge.amount > limit:
                refused_at = len(values)
            values.append(current)
        for claim in slots:
            slot = self._slots.get(claim.key)
            taken = 0 if slot is None else slot.taken(now)
            if refused_at is None and taken >= claim.limit:
                refused_at = len(values)
            values.append(taken)
        return refused_at, values

    def _take(
        self, charges: Sequence[WindowCharge], slots: Sequence[SlotClaim], now: float
    ) -> tuple[int, ...]:
        counters = self._counters
        values: list[int] = []
        for charge in charges:
            counter = counters.get(charge.key)
            if counter is None or counter.deadline <= now:
                # A new window: its end is fixed now, and later charges do not push it back.
                counter = counters[charge.key] = _Counter(0, _deadline(now, charge.ttl_seconds))
            counter.value += charge.amount
            values.append(counter.value)
        for claim in slots:
            slot = self._slots.get(claim.key)
            if slot is None:
                slot = self._slots[claim.key] = _Slots()
            values.append(slot.claim(claim.lease_id, now + claim.ttl_seconds))
        return tuple(values)

    def _live(self, key: str, now: float) -> _Counter | None:
        counter = self._counters.get(key)
        if counter is None or counter.deadline <= now:
            return None
        return counter

    def _tick(self) -> float:
        """The time now, sweeping expired entries once enough operations have passed."""
        now = self._monotonic()
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)
        return now

    def _sweep(self, now: float) -> None:
        for key in [key for key, counter in self._counters.items() if counter.deadline <= now]:
            del self._counters[key]
        for key, slot in list(self._slots.items()):
            if slot.taken(now) == 0:
                del self._slots[key]
        self._until_sweep = max(_SWEEP_EVERY, len(self._counters) + len(self._slots))


def _value(counter: _Counter | None) -> int:
    return 0 if counter is None else counter.value


def _deadline(now: float, ttl_seconds: int | None) -> float:
    return _FOREVER if ttl_seconds is None else now + ttl_seconds
