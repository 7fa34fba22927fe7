"""The circuit breaker: opens after consecutive failures, lets one trial through after the cooldown."""

from __future__ import annotations

from llmaas.services.circuit_breaker import BreakerState, CircuitBreaker


def test_opens_after_the_threshold_of_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failures=3, cooldown=30)
    breaker.on_failure(0)
    breaker.on_failure(1)
    breaker.on_success()  # a success in between resets the count
    breaker.on_failure(2)
    breaker.on_failure(3)
    assert breaker.state(3) is BreakerState.CLOSED
    breaker.on_failure(4)
    assert breaker.state(4) is BreakerState.OPEN
    assert not breaker.allows(33.9)


def test_half_open_lets_exactly_one_trial_through() -> None:
    breaker = CircuitBreaker(failures=1, cooldown=10)
    breaker.on_failure(0)
    assert breaker.state(10) is BreakerState.HALF_OPEN
    assert breaker.allows(10)
    breaker.on_attempt(10)
    assert not breaker.allows(10.5)  # the trial is out


def test_a_failed_trial_reopens_for_a_full_cooldown_and_a_good_one_closes() -> None:
    breaker = CircuitBreaker(failures=1, cooldown=10)
    breaker.on_failure(0)
    breaker.on_attempt(10)
    breaker.on_failure(11)
    assert breaker.state(20.9) is BreakerState.OPEN
    breaker.on_attempt(21)
    breaker.on_success()
    assert breaker.state(21) is BreakerState.CLOSED


def test_an_abandoned_trial_frees_the_slot() -> None:
    breaker = CircuitBreaker(failures=1, cooldown=10)
    breaker.on_failure(0)
    breaker.on_attempt(10)
    breaker.on_abandon()
    assert breaker.allows(10)
