"""Quotas and rate limits, and how a contract overrides a tier.

Every limit is optional (``None`` means unlimited at that level). Limits are set at three levels: the
tier gives an organization its defaults, the organization's contract overrides some of them, and each
API key may add its own, tighter limits. A request must fit every level that sets a limit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum


class LimitName(StrEnum):
    REQUESTS_PER_MINUTE = "requests_per_minute"
    TOKENS_PER_MINUTE = "tokens_per_minute"
    OUTPUT_TOKENS_PER_HOUR = "output_tokens_per_hour"
    OUTPUT_TOKENS_PER_DAY = "output_tokens_per_day"
    MAX_CONCURRENT_REQUESTS = "max_concurrent_requests"
    MONTHLY_BUDGET_MICROS = "monthly_budget_micros"


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    output_tokens_per_hour: int | None = None
    output_tokens_per_day: int | None = None
    max_concurrent_requests: int | None = None
    monthly_budget_micros: int | None = None
    """The monthly spending cap, in EUR micros."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{item.name} must be a non-negative integer or None")

    def overridden_by(self, contract: Limits) -> Limits:
        """The contract's values win wherever it sets one."""
        changes = {
            item.name: getattr(contract, item.name)
            for item in fields(contract)
            if getattr(contract, item.name) is not None
        }
        return replace(self, **changes)

    def as_dict(self) -> dict[str, int | None]:
        return {item.name: getattr(self, item.name) for item in fields(self)}

    @property
    def is_unlimited(self) -> bool:
        return all(getattr(self, item.name) is None for item in fields(self))


UNLIMITED = Limits()
