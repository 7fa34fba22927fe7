"""Request examples of the admin API shown in the OpenAPI document (``/docs``)."""

from __future__ import annotations

from typing import Any

TIER_CREATE: dict[str, Any] = {
    "prepaid": {
        "summary": "A prepaid tier",
        "value": {
            "id": "startup",
            "name": "Startup",
            "description": "Prepaid, for small teams.",
            "purchase_credit_eur": "100.00",
            "limits": {"monthly_budget_eur": "500.00", "output_tokens_per_hour": 100000},
        },
    },
    "invoiced": {
        "summary": "A tier billed monthly, restricted to two models",
        "value": {
            "id": "enterprise",
            "name": "Enterprise",
            "allowed_models": ["qwen2.5-coder:0.5b", "all-minilm:22m"],
            "limits": {"requests_per_minute": 6000},
        },
    },
}

TIER_UPDATE: dict[str, Any] = {
    "budget": {
        "summary": "Raise the monthly cap (other limits unchanged)",
        "value": {"limits": {"monthly_budget_eur": "2000.00"}},
    },
    "invoiced": {
        "summary": "Stop selling it prepaid",
        "value": {"purchase_credit_eur": None},
    },
}

ORGANIZATION_CREATE: dict[str, Any] = {
    "prepaid": {
        "summary": "A customer on a prepaid tier (starts with the tier's purchase credit)",
        "value": {"id": "acme", "name": "ACME SAS", "tier": "tier-1"},
    },
    "contract": {
        "summary": "A custom contract",
        "value": {
            "id": "bigcorp",
            "name": "BigCorp GmbH",
            "tier": "monthly-billing",
            "limits": {"monthly_budget_eur": "25000.00", "max_concurrent_requests": 50},
            "allowed_models": ["qwen2.5-coder:0.5b"],
            "data_policy": {"countries": ["FR"], "certifications": ["SecNumCloud"]},
        },
    },
}

ORGANIZATION_UPDATE: dict[str, Any] = {
    "upgrade": {"summary": "Move to another tier", "value": {"tier": "tier-2"}},
    "disable": {"summary": "Suspend every key of the organization", "value": {"disabled": True}},
    "contract": {
        "summary": "Change one limit of the contract",
        "value": {"limits": {"requests_per_minute": 1200}},
    },
}

CREDIT_PURCHASE: dict[str, Any] = {
    "purchase": {
        "summary": "Record a purchase of credit",
        "value": {"amount_eur": "500.00", "note": "invoice 2025-0042"},
    }
}

KEY_CREATE: dict[str, Any] = {
    "simple": {
        "summary": "A key of an organization",
        "value": {"name": "ci", "organization": "acme"},
    },
    "restricted": {
        "summary": "A key with its own budget, models and expiry",
        "value": {
            "name": "intern-project",
            "organization": "acme",
            "allowed_models": ["qwen2.5-coder:0.5b"],
            "limits": {"monthly_budget_eur": "50.00", "requests_per_minute": 60},
            "expires_at": "2026-12-31T23:59:59Z",
        },
    },
}

KEY_UPDATE: dict[str, Any] = {
    "budget": {
        "summary": "Change the key's monthly budget",
        "value": {"limits": {"monthly_budget_eur": "100.00"}},
    },
    "rename": {
        "summary": "Rename it, and let it use every model",
        "value": {"name": "ci-main", "allowed_models": None},
    },
}

KEY_ROTATION: dict[str, Any] = {
    "day": {"summary": "The old secret works for one more day (the default)", "value": {}},
    "now": {"summary": "The old secret stops at once", "value": {"grace_seconds": 0}},
}
