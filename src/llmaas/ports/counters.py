"""Shared counters: rate windows, budgets, credit and concurrency slots.

One process can keep them in memory; several gateway instances must share them (Redis), or every
instance would grant the full limit and the limits would multiply with the replicas. The port is shaped
for one round trip per admission and one per settlement: all of a request's counters are checked and
charged together, atomically, or none is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WindowCharge:
    """Add ``amount`` to the counter ``key`` unless that would take it past ``limit``."""

    key: str
    amount: int
    limit: int | None
    """``None``: count without limiting (so the figure can be shown)."""
    ttl_seconds: int | None
    """How long the counter lives after its creation (its window plus a margin); ``None``: forever."""


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """Take one of ``limit`` concurrency slots under ``key``, as a lease that expires by itself, so a
    crashed instance cannot hold slots forever."""

    key: str
    limit: int
    lease_id: str
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class ReserveResult:
    admitted: bool
    refused_at: int | None = None
    """Index of the first charge (then slot, counting after the charges) that did not fit."""
    values: tuple[int, ...] = ()
    """Per charge then per slot: the value after charging when admitted, the current value otherwise."""
    revoked: bool = False
    """The revocation flag was set: nothing was charged."""
    unseeded: bool = False
    """The seeded marker was missing (the counters were wiped, a Redis restarted empty, and are not
    restored from stored usage yet): nothing was charged."""


class Counters(Protocol):
    async def reserve(
        self,
        charges: Sequence[WindowCharge],
        slots: Sequence[SlotClaim] = (),
        *,
        revocation_flag: str | None = None,
        seeded_marker: str | None = None,
    ) -> ReserveResult:
        """All or nothing: either every charge and slot is taken, or none is. Nothing is taken when
        ``revocation_flag`` exists, nor when ``seeded_marker`` does not (in a store that can be wiped
        apart from the process: in-process counters may ignore it)."""
        ...

    async def adjust(
        self, deltas: Sequence[tuple[str, int]], released_slots: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Add each ``(key, delta)`` where the counter still exists (a window that has ended stays
        ended), and give back each ``(key, lease_id)`` slot."""
        ...

    async def read(self, keys: Sequence[str]) -> tuple[int, ...]:
        """Current values (0 for a counter that does not exist)."""
        ...

    async def seed(self, values: Sequence[tuple[str, int, int | None]]) -> None:
        """Set each ``(key, value, ttl_seconds)`` only where the counter does not exist yet: how a
        restarted process recovers spend from stored usage without double counting."""
        ...

    async def set_flag(self, key: str, ttl_seconds: int) -> None:
        """Raise a flag (a revocation) that ``reserve`` checks in the same round trip."""
        ...

    async def clear_flag(self, key: str) -> None:
        """Lower a flag (a deployment that stops draining); ``read`` then gives 0."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
