"""Admin request and response bodies: tiers, organizations and API keys.

Requests turn into the keyword arguments of the tenant and key services; responses are built from
domain objects. ``PATCH`` bodies follow JSON merge patch: a field left out stays as it is, a nullable
field sent as ``null`` is cleared (a required one, such as ``name``, sent as ``null`` stays as it is).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from llmaas.api.admin.values import (
    LIMITS_EXAMPLE,
    EurMicros,
    LimitsIn,
    LimitsOut,
    ModelIds,
    PositiveEurMicros,
    RequestModel,
    ResponseModel,
    eur,
    model_list,
    model_set,
    patched_limits,
)
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.locations import DataPolicy
from llmaas.domain.money import format_eur
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID, Organization, Tier

Name = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=63)]


class DataPolicyIn(RequestModel):
    """Sovereignty: requests go only to deployments in one of ``countries`` holding every one of
    ``certifications``; empty lists mean no requirement."""

    countries: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(
        default_factory=list, max_length=250, description="ISO 3166-1 alpha-2 codes."
    )
    certifications: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, description='e.g. ["SecNumCloud", "HDS"].'
    )

    def to_policy(self) -> DataPolicy:
        return DataPolicy.of(self.countries, self.certifications)


class DataPolicyOut(ResponseModel):
    countries: list[str]
    certifications: list[str]

    @classmethod
    def of(cls, policy: DataPolicy) -> DataPolicyOut:
        return cls(**policy.to_json())


GUARDRAIL_POLICY = (
    "What the prompt-injection guardrail does: `block` (400 `prompt_injection_detected`), `flag` "
    "(served, with an `x-llmaas-guardrail` header) or `off`. Null inherits: a key its "
    "organization's, an organization its tier's, a tier the server's (`block` by default)."
)


# --- tiers -------------------------------------------------------------------------------------


class TierCreate(RequestModel):
    id: Id = Field(description="Lowercase letters, digits and dashes.")
    name: Name
    description: str = Field(default="", max_length=200)
    purchase_credit_eur: EurMicros | None = Field(
        default=None, description="Makes the tier prepaid: what joining it costs up front."
    )
    allowed_models: ModelIds | None = None
    limits: LimitsIn | None = None
    guardrail_policy: GuardPolicy | None = Field(default=None, description=GUARDRAIL_POLICY)

    def to_tier(self) -> Tier:
        return Tier(
            id=self.id,
            name=self.name,
            limits=self.limits.to_limits() if self.limits is not None else Limits(),
            purchase_credit_micros=self.purchase_credit_eur,
            allowed_models=model_set(self.allowed_models),
            description=self.description,
            guardrail_policy=self.guardrail_policy,
        )


class TierUpdate(RequestModel):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=200)
    purchase_credit_eur: EurMicros | None = None
    allowed_models: ModelIds | None = None
    limits: LimitsIn | None = None
    guardrail_policy: GuardPolicy | None = Field(default=None, description=GUARDRAIL_POLICY)

    def changes(self, current: Tier) -> dict[str, Any]:
        sent = self.model_fields_set
        changes: dict[str, Any] = {}
        if self.name is not None:
            changes["name"] = self.name
        if self.description is not None:
            changes["description"] = self.description
        if "purchase_credit_eur" in sent:
            changes["purchase_credit_micros"] = self.purchase_credit_eur
        if "allowed_models" in sent:
            changes["allowed_models"] = model_set(self.allowed_models)
        if "limits" in sent:
            changes["limits"] = patched_limits(current.limits, self.limits)
        if "guardrail_policy" in sent:
            changes["guardrail_policy"] = self.guardrail_policy
        return changes


TIER_EXAMPLE: dict[str, Any] = {
    "object": "tier",
    "id": "tier-1",
    "name": "Tier 1",
    "description": "",
    "prepaid": True,
    "purchase_credit_eur": "200.00",
    "allowed_models": None,
    "limits": LIMITS_EXAMPLE,
    "guardrail_policy": None,
}


class TierOut(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TIER_EXAMPLE]})

    object: Literal["tier"] = "tier"
    id: str
    name: str
    description: str
    prepaid: bool
    purchase_credit_eur: str | None
    allowed_models: list[str] | None
    limits: LimitsOut
    guardrail_policy: GuardPolicy | None = Field(description=GUARDRAIL_POLICY)

    @classmethod
    def of(cls, tier: Tier) -> TierOut:
        return cls(
            id=tier.id,
            name=tier.name,
            description=tier.description,
            prepaid=tier.prepaid,
            purchase_credit_eur=eur(tier.purchase_credit_micros),
            allowed_models=model_list(tier.allowed_models),
            limits=LimitsOut.of(tier.limits),
            guardrail_policy=tier.guardrail_policy,
        )


class TierList(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"object": "list", "data": [TIER_EXAMPLE]}]}
    )

    object: Literal["list"] = "list"
    data: list[TierOut]


# --- organizations -----------------------------------------------------------------------------


class OrganizationCreate(RequestModel):
    id: Id = Field(description="Lowercase letters, digits and dashes.")
    name: Name
    tier: Id
    limits: LimitsIn | None = Field(default=None, description="The contract: overrides the tier's.")
    allowed_models: ModelIds | None = None
    initial_credit_eur: EurMicros | None = Field(
        default=None, description="Defaults to the tier's purchase credit when it is prepaid."
    )
    data_policy: DataPolicyIn | None = None
    guardrail_policy: GuardPolicy | None = Field(default=None, description=GUARDRAIL_POLICY)

    def arguments(self) -> dict[str, Any]:
        return {
            "guardrail_policy": self.guardrail_policy,
            "overrides": self.limits.to_limits() if self.limits is not None else None,
            "allowed_models": model_set(self.allowed_models),
            "initial_credit_micros": self.initial_credit_eur,
            "data_policy": self.data_policy.to_policy() if self.data_policy else None,
        }


class OrganizationUpdate(RequestModel):
    name: Name | None = None
    tier: Id | None = None
    limits: LimitsIn | None = None
    allowed_models: ModelIds | None = None
    data_policy: DataPolicyIn | None = None
    disabled: bool | None = None
    guardrail_policy: GuardPolicy | None = Field(default=None, description=GUARDRAIL_POLICY)

    def changes(self, current: Organization) -> dict[str, Any]:
        sent = self.model_fields_set
        changes: dict[str, Any] = {}
        if self.name is not None:
            changes["name"] = self.name
        if self.tier is not None:
            changes["tier_id"] = self.tier
        if "limits" in sent:
            changes["overrides"] = patched_limits(current.overrides, self.limits)
        if "allowed_models" in sent:
            changes["allowed_models"] = model_set(self.allowed_models)
        if "data_policy" in sent:
            changes["data_policy"] = (
                self.data_policy.to_policy() if self.data_policy else DataPolicy()
            )
        if "guardrail_policy" in sent:
            changes["guardrail_policy"] = self.guardrail_policy
        return changes


class CreditPurchase(RequestModel):
    amount_eur: PositiveEurMicros
    note: str = Field(default="", max_length=200)


ORGANIZATION_EXAMPLE: dict[str, Any] = {
    "object": "organization",
    "id": "acme",
    "name": "ACME SAS",
    "tier": "tier-1",
    "created_at": "2025-01-15T09:30:00Z",
    "limits": {**dict.fromkeys(LIMITS_EXAMPLE), "requests_per_minute": 1200},
    "effective_limits": {**LIMITS_EXAMPLE, "requests_per_minute": 1200},
    "allowed_models": None,
    "data_policy": {"countries": ["FR"], "certifications": ["secnumcloud"]},
    "disabled": False,
    "disabled_at": None,
    "prepaid": True,
    "credit_granted_eur": "200.00",
    "credit_spent_eur": "12.345678",
    "credit_balance_eur": "187.654322",
    "guardrail_policy": "flag",
}


class OrganizationOut(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ORGANIZATION_EXAMPLE]})

    object: Literal["organization"] = "organization"
    id: str
    name: str
    tier: str
    created_at: datetime
    limits: LimitsOut = Field(description="The contract's overrides of the tier's limits.")
    effective_limits: LimitsOut = Field(description="The tier's limits with the contract applied.")
    allowed_models: list[str] | None
    data_policy: DataPolicyOut
    disabled: bool
    disabled_at: datetime | None
    prepaid: bool
    credit_granted_eur: str = Field(description="Prepaid credit bought, all time.")
    credit_spent_eur: str = Field(description="Spend, all time.")
    credit_balance_eur: str | None = Field(description="Granted minus spent; null when invoiced.")
    guardrail_policy: GuardPolicy | None = Field(description=GUARDRAIL_POLICY)

    @classmethod
    def of(cls, organization: Organization, tier: Tier, spent_micros: int) -> OrganizationOut:
        granted = organization.credit_granted_micros
        return cls(
            id=organization.id,
            name=organization.name,
            tier=organization.tier_id,
            created_at=organization.created_at,
            limits=LimitsOut.of(organization.overrides),
            effective_limits=LimitsOut.of(organization.effective_limits(tier)),
            allowed_models=model_list(organization.allowed_models),
            data_policy=DataPolicyOut.of(organization.data_policy),
            disabled=organization.disabled_at is not None,
            disabled_at=organization.disabled_at,
            prepaid=tier.prepaid,
            credit_granted_eur=format_eur(granted),
            credit_spent_eur=format_eur(spent_micros),
            credit_balance_eur=eur(granted - spent_micros) if tier.prepaid else None,
            guardrail_policy=organization.guardrail_policy,
        )


class OrganizationList(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"object": "list", "data": [ORGANIZATION_EXAMPLE]}]}
    )

    object: Literal["list"] = "list"
    data: list[OrganizationOut]


# --- API keys ----------------------------------------------------------------------------------


class KeyCreate(RequestModel):
    name: Name
    organization: Id = DEFAULT_ORGANIZATION_ID
    allowed_models: ModelIds | None = None
    limits: LimitsIn | None = None
    expires_at: AwareDatetime | None = None
    is_admin: bool = False
    guardrail_policy: GuardPolicy | None = Field(default=None, description=GUARDRAIL_POLICY)

    def arguments(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization,
            "is_admin": self.is_admin,
            "allowed_models": self.allowed_models,
            "expires_at": self.expires_at,
            "limits": self.limits.to_limits() if self.limits is not None else None,
            "guardrail_policy": self.guardrail_policy,
        }


class KeyUpdate(RequestModel):
    name: Name | None = None
    allowed_models: ModelIds | None = None
    limits: LimitsIn | None = None
    expires_at: AwareDatetime | None = None
    guardrail_policy: GuardPolicy | None = Field(default=None, description=GUARDRAIL_POLICY)

    def changes(self, current: ApiKeyRecord) -> dict[str, Any]:
        sent = self.model_fields_set
        changes: dict[str, Any] = {}
        if self.name is not None:
            changes["name"] = self.name
        if "allowed_models" in sent:
            changes["allowed_models"] = model_set(self.allowed_models)
        if "limits" in sent:
            changes["limits"] = patched_limits(current.limits, self.limits)
        if "expires_at" in sent:
            changes["expires_at"] = self.expires_at
        if "guardrail_policy" in sent:
            changes["guardrail_policy"] = self.guardrail_policy
        return changes


class KeyRotation(RequestModel):
    grace_seconds: int = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        strict=True,
        description="How long the old secret keeps working (at most 30 days).",
    )


KEY_EXAMPLE: dict[str, Any] = {
    "object": "api_key",
    "id": "k3y1d0000001",
    "name": "ci-pipeline",
    "prefix": "sk-llmaas-k3y1d0000001-...",
    "organization": "acme",
    "is_admin": False,
    "allowed_models": ["qwen2.5-coder:0.5b"],
    "limits": {**dict.fromkeys(LIMITS_EXAMPLE), "monthly_budget_eur": "50.00"},
    "created_at": "2025-01-15T09:30:00Z",
    "expires_at": None,
    "revoked_at": None,
    "previous_secret_valid_until": None,
    "guardrail_policy": None,
}


class KeyOut(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [KEY_EXAMPLE]})

    object: Literal["api_key"] = "api_key"
    id: str
    name: str
    prefix: str = Field(description="Identifies the key without revealing it.")
    organization: str
    is_admin: bool
    allowed_models: list[str] | None
    limits: LimitsOut
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        description="After a rotation: until when the old secret is still accepted."
    )
    guardrail_policy: GuardPolicy | None = Field(description=GUARDRAIL_POLICY)

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyOut:
        return cls(**_key_fields(record))


def _key_fields(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.display_prefix,
        "organization": record.organization_id,
        "is_admin": record.is_admin,
        "allowed_models": model_list(record.allowed_models),
        "limits": LimitsOut.of(record.limits),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "previous_secret_valid_until": record.previous_valid_until,
        "guardrail_policy": record.guardrail_policy,
    }


class IssuedKeyOut(KeyOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**KEY_EXAMPLE, "key": "sk-llmaas-k3y1d0000001-" + "x" * 40}]
        }
    )

    key: str = Field(description="The secret: shown this once, store it now.")

    @classmethod
    def issued(cls, record: ApiKeyRecord, secret: str) -> IssuedKeyOut:
        return cls(key=secret, **_key_fields(record))


class KeyList(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"object": "list", "data": [KEY_EXAMPLE]}]}
    )

    object: Literal["list"] = "list"
    data: list[KeyOut]
