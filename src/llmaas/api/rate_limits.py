"""The ``x-ratelimit-*`` headers OpenAI clients read (and back off on), from admission's status."""

from __future__ import annotations

import math

from llmaas.domain.quotas import LimitState, RateLimitStatus


def rate_limit_headers(status: RateLimitStatus | None) -> dict[str, str]:
    """Only the limits that exist: a caller with no requests-per-minute limit gets no such headers."""
    headers: dict[str, str] = {}
    if status is None:
        return headers
    for suffix, state in (("requests", status.requests), ("tokens", status.tokens)):
        if state is not None:
            headers.update(_headers(suffix, state))
    return headers


def _headers(suffix: str, state: LimitState) -> dict[str, str]:
    return {
        f"x-ratelimit-limit-{suffix}": str(state.limit),
        f"x-ratelimit-remaining-{suffix}": str(state.remaining),
        f"x-ratelimit-reset-{suffix}": duration(state.reset_seconds),
    }


def duration(seconds: float) -> str:
    """OpenAI's format: ``"1s"``, ``"6m0s"``, ``"1h2m3s"`` (whole seconds, rounded up)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
