"""How keys, organizations, tiers and limits look on the command line: JSON for scripts, text for people.

The JSON keeps every amount in exact micros (``*_micros``) beside its EUR text, so a script never
parses a formatted number. Text shown in tables is wrapped in ``Text`` because names come from the
database: rich must not read ``[...]`` in them as markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.table import Table
from rich.text import Text

from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.limits import Limits
from llmaas.domain.money import format_eur
from llmaas.domain.tenants import Organization, Tier

_SHORT_NAMES = {
    "requests_per_minute": "rpm",
    "tokens_per_minute": "tpm",
    "output_tokens_per_hour": "out/h",
    "output_tokens_per_day": "out/day",
    "max_concurrent_requests": "concurrent",
}


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def short_when(moment: datetime | None) -> str:
    """Minutes are enough in a table; JSON carries the full timestamp."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def models_json(models: frozenset[str] | None) -> list[str] | None:
    return sorted(models) if models is not None else None


def models_text(models: frozenset[str] | None) -> str:
    return ", ".join(sorted(models)) if models is not None else "all"


def eur_text(micros: int | None) -> str:
    return "" if micros is None else f"€{format_eur(micros)}"


def count_text(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def limits_text(limits: Limits) -> str:
    """One line for a table cell: only the limits that are set."""
    parts = [
        f"{_SHORT_NAMES[name]} {value:,}"
        for name, value in limits.as_dict().items()
        if value is not None and name in _SHORT_NAMES
    ]
    if limits.monthly_budget_micros is not None:
        parts.append(f"{eur_text(limits.monthly_budget_micros)}/month")
    return ", ".join(parts) or "-"


def limits_json(limits: Limits) -> dict[str, int | None]:
    return limits.as_dict()


def key_json(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.display_prefix,
        "organization": record.organization_id,
        "admin": record.is_admin,
        "models": models_json(record.allowed_models),
        "limits": limits_json(record.limits),
        "created_at": record.created_at.isoformat(),
        "expires_at": when(record.expires_at),
        "revoked_at": when(record.revoked_at),
        "previous_valid_until": when(record.previous_valid_until),
        "guardrail": record.guardrail_policy,
    }


def organization_json(organization: Organization) -> dict[str, object]:
    return {
        "id": organization.id,
        "name": organization.name,
        "tier": organization.tier_id,
        "overrides": limits_json(organization.overrides),
        "models": models_json(organization.allowed_models),
        "credit_granted_micros": organization.credit_granted_micros,
        "credit_granted_eur": format_eur(organization.credit_granted_micros),
        "data_policy": organization.data_policy.to_json(),
        "created_at": organization.created_at.isoformat(),
        "disabled_at": when(organization.disabled_at),
        "guardrail": organization.guardrail_policy,
    }


def tier_json(tier: Tier) -> dict[str, object]:
    return {
        "id": tier.id,
        "name": tier.name,
        "description": tier.description,
        "limits": limits_json(tier.limits),
        "purchase_credit_micros": tier.purchase_credit_micros,
        "purchase_credit_eur": (
            format_eur(tier.purchase_credit_micros)
            if tier.purchase_credit_micros is not None
            else None
        ),
        "prepaid": tier.prepaid,
        "models": models_json(tier.allowed_models),
        "guardrail": tier.guardrail_policy,
    }


def table(*columns: str, rows: Iterable[Iterable[str]]) -> Table:
    # Fold rather than cut with an ellipsis: a truncated id or amount would be a wrong one.
    result = Table()
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*(Text(cell) for cell in row))
    return result


def fields_table(fields: Iterable[tuple[str, str]]) -> Table:
    """A two-column table for one object (``keys show``, ``orgs show``)."""
    result = Table(show_header=False, box=None)
    result.add_column(style="bold")
    result.add_column()
    for name, value in fields:
        result.add_row(name, Text(value))
    return result


def key_row(record: ApiKeyRecord) -> list[str]:
    return [
        record.id,
        record.name,
        record.organization_id,
        models_text(record.allowed_models),
        limits_text(record.limits),
        short_when(record.expires_at),
        short_when(record.revoked_at),
    ]


def key_fields(record: ApiKeyRecord) -> list[tuple[str, str]]:
    return [
        ("id", record.id),
        ("name", record.name),
        ("key", record.display_prefix),
        ("organization", record.organization_id),
        ("admin", "yes" if record.is_admin else "no"),
        ("models", models_text(record.allowed_models)),
        ("limits", limits_text(record.limits)),
        ("created", short_when(record.created_at)),
        ("expires", short_when(record.expires_at) or "never"),
        ("revoked", short_when(record.revoked_at) or "no"),
        ("old secret valid until", short_when(record.previous_valid_until) or "-"),
        ("guardrail", record.guardrail_policy or "inherited"),
    ]


def organization_row(organization: Organization) -> list[str]:
    return [
        organization.id,
        organization.name,
        organization.tier_id,
        limits_text(organization.overrides),
        models_text(organization.allowed_models),
        eur_text(organization.credit_granted_micros),
        "disabled" if organization.disabled_at is not None else "active",
    ]


def organization_fields(organization: Organization, tier: Tier) -> list[tuple[str, str]]:
    return [
        ("id", organization.id),
        ("name", organization.name),
        ("tier", f"{tier.id} ({tier.name})"),
        ("tier limits", limits_text(tier.limits)),
        ("contract overrides", limits_text(organization.overrides)),
        ("effective limits", limits_text(organization.effective_limits(tier))),
        ("effective models", models_text(organization.effective_models(tier))),
        ("credit bought", eur_text(organization.credit_granted_micros)),
        ("created", short_when(organization.created_at)),
        ("status", "disabled" if organization.disabled_at is not None else "active"),
    ]


def tier_row(tier: Tier) -> list[str]:
    limits = tier.limits
    return [
        tier.id,
        tier.name,
        eur_text(tier.purchase_credit_micros) or "monthly",
        eur_text(limits.monthly_budget_micros),
        count_text(limits.output_tokens_per_hour),
        count_text(limits.output_tokens_per_day),
        count_text(limits.requests_per_minute),
        count_text(limits.tokens_per_minute),
        count_text(limits.max_concurrent_requests),
        models_text(tier.allowed_models),
    ]


TIER_COLUMNS = (
    "id",
    "name",
    "purchase credit",
    "monthly cap",
    "output/hour",
    "output/day",
    "rpm",
    "tpm",
    "concurrency",
    "models",
)
KEY_COLUMNS = ("id", "name", "org", "models", "limits", "expires", "revoked")
ORGANIZATION_COLUMNS = ("id", "name", "tier", "overrides", "models", "credit bought", "status")
