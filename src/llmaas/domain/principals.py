"""Who is calling: the result of authentication, handed to every later pipeline stage.

It carries everything admission needs (the key's and the organization's limits, the credit), so the
hot path makes no further lookups: it is rebuilt whenever the authenticator re-reads the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.locations import NO_POLICY, DataPolicy
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    key_name: str
    is_admin: bool = False
    allowed_models: frozenset[str] | None = None
    """The intersection of the key's, the organization's and the tier's allow-lists."""
    organization_id: str = DEFAULT_ORGANIZATION_ID
    tier_id: str = ""
    key_limits: Limits = Limits()
    organization_limits: Limits = Limits()
    """The tier's limits with the organization's contract applied."""
    credit_micros: int | None = None
    """Prepaid credit bought so far (all time) when the tier is prepaid; ``None`` when invoiced."""
    data_policy: DataPolicy = NO_POLICY
    """The organization's sovereignty requirements: routing never leaves them."""
    guard_policy: GuardPolicy | None = None
    """The key's, else the organization's, else the tier's guardrail policy; ``None``: the server's."""

    def may_use(self, model_id: str) -> bool:
        return self.allowed_models is None or model_id in self.allowed_models
