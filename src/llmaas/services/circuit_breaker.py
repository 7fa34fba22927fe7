"""A circuit breaker per deployment: stop sending traffic to one that keeps failing.

Health checks catch a dead machine; the breaker catches one that answers its health check but fails
real requests (an engine out of GPU memory, a wedged scheduler). After ``failures`` consecutive
failures it opens for ``cooldown`` seconds; then one trial request is let through (half-open), and its
outcome closes or re-opens the circuit.
"""

from __future__ import annotations

from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    __slots__ = ("_cooldown", "_failures", "_opened_at", "_threshold", "_trial_out")

    def __init__(self, failures: int, cooldown: float) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    @property
    def tripped(self) -> bool:
        """Opened and not closed since (open or half-open): only then does time matter."""
        return self._opened_at is not None

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now - self._opened_at < self._cooldown:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allows(self, now: float) -> bool:
        """Whether a request may be sent now (one trial at a time once the cooldown is over)."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self._trial_out

    def on_attempt(self, now: float) -> None:
        if self.state(now) is BreakerState.HALF_OPEN:
            self._trial_out = True

    def on_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_out = False

    def on_failure(self, now: float) -> None:
        self._failures += 1
        self._trial_out = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = now  # a failed trial re-opens for a full cooldown

    def on_abandon(self) -> None:
        """The attempt ended without a verdict (the client left): free the trial slot."""
        self._trial_out = False

    def reset(self) -> None:
        self.on_success()
