"""Tiers and organizations (tenants).

A tier is a product an operator sells: a monthly spending cap, output-token windows, and optionally a
prepaid credit that must be bought first. An organization is a customer on a tier; its contract may
override any of the tier's limits (a "custom contract"), and prepaid organizations hold a credit balance
that usage draws down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.locations import NO_POLICY, DataPolicy

TIER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


@dataclass(frozen=True, slots=True)
class Tier:
    id: str
    name: str
    limits: Limits = Limits()
    purchase_credit_micros: int | None = None
    """What a customer buys up front to join a prepaid tier; ``None`` for tiers billed monthly."""
    allowed_models: frozenset[str] | None = None
    description: str = ""
    guardrail_policy: GuardPolicy | None = None
    """What the prompt-injection guard does for its organizations' keys; ``None``: the server's."""

    @property
    def prepaid(self) -> bool:
        return self.purchase_credit_micros is not None


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    tier_id: str
    created_at: datetime
    overrides: Limits = Limits()
    """The contract: any limit set here replaces the tier's."""
    allowed_models: frozenset[str] | None = None
    credit_granted_micros: int = 0
    """Prepaid credit bought so far, all time; the balance is this minus all-time spend."""
    data_policy: DataPolicy = NO_POLICY
    """Sovereignty: the countries and certifications its requests' deployments must have."""
    disabled_at: datetime | None = None
    guardrail_policy: GuardPolicy | None = None
    """The contract's guardrail policy, over the tier's; ``None`` keeps the tier's."""

    def effective_limits(self, tier: Tier) -> Limits:
        return tier.limits.overridden_by(self.overrides)

    def effective_models(self, tier: Tier) -> frozenset[str] | None:
        """The organization's allow-list narrows the tier's; ``None`` means every model."""
        return intersect_allowed(tier.allowed_models, self.allowed_models)


def intersect_allowed(*lists: frozenset[str] | None) -> frozenset[str] | None:
    result: frozenset[str] | None = None
    for allowed in lists:
        if allowed is None:
            continue
        result = allowed if result is None else result & allowed
    return result


DEFAULT_ORGANIZATION_ID = "default"
DEFAULT_TIER_ID = "monthly-billing"


def _eur(euros: int) -> int:
    return euros * 1_000_000


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(
        "tier-1",
        "Tier 1",
        Limits(
            monthly_budget_micros=_eur(1_000),
            output_tokens_per_hour=150_000,
            output_tokens_per_day=3_600_000,
        ),
        purchase_credit_micros=_eur(200),
    ),
    Tier(
        "tier-2",
        "Tier 2",
        Limits(
            monthly_budget_micros=_eur(3_000),
            output_tokens_per_hour=300_000,
            output_tokens_per_day=7_200_000,
        ),
        purchase_credit_micros=_eur(500),
    ),
    Tier(
        "tier-3",
        "Tier 3",
        Limits(
            monthly_budget_micros=_eur(5_000),
            output_tokens_per_hour=450_000,
            output_tokens_per_day=10_800_000,
        ),
        purchase_credit_micros=_eur(1_000),
    ),
    Tier(
        "tier-4",
        "Tier 4",
        Limits(
            monthly_budget_micros=_eur(10_000),
            output_tokens_per_hour=600_000,
            output_tokens_per_day=14_400_000,
        ),
        purchase_credit_micros=_eur(4_000),
    ),
    Tier(
        "monthly-billing",
        "Monthly billing",
        Limits(),
        description="Invoiced monthly; caps and windows come from the organization's contract.",
    ),
)
"""The tiers a new installation starts with (the first migration seeds the same rows)."""
