"""``GET /v1/me`` and ``GET /v1/me/usage`` on the real application, with any valid key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from llmaas.domain.limits import Limits
from llmaas.settings import Settings
from tests.integration.api.conftest import bearer, core_of, event, running, store_usage


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def _prepaid_key(settings: Settings) -> tuple[str, str]:
    """A key of an organization on the prepaid tier 1 (200 EUR bought, 1000 EUR a month)."""
    async with core_of(settings) as core:
        await core.tenants.create_organization("acme", "ACME", "tier-1")
        issued = await core.api_keys.create(
            "ci",
            organization_id="acme",
            allowed_models=["m1"],
            limits=Limits(requests_per_minute=60, monthly_budget_micros=50_000_000),
        )
    return issued.record.id, issued.key.reveal()


async def test_me_shows_limits_spend_and_credit(settings: Settings) -> None:
    key_id, secret = await _prepaid_key(settings)
    now = datetime.now(UTC)
    await store_usage(
        settings,
        [
            event(key_id, "acme", "m1", now, prompt=10, completion=5, cost_micros=1_000_000),
            event(key_id, "acme", "m1", now, prompt=20, completion=5, cost_micros=250_000),
            event("other-key", "acme", "m1", now, prompt=1, completion=1, cost_micros=500_000),
        ],
    )
    async with running(settings) as client:  # started after the usage: spend is restored from it
        me = await _ok(await client.get("/v1/me", headers=bearer(secret)))

    assert me["object"] == "api_key.status"
    key = me["key"]
    assert key["id"] == key_id
    assert key["prefix"] == f"sk-llmaas-{key_id}-..."
    assert (key["organization"], key["tier"], key["allowed_models"]) == ("acme", "tier-1", ["m1"])
    assert key["expires_at"] is None
    assert secret not in str(me)

    own = me["limits"]["key"]
    assert own["requests_per_minute"] == {"limit": 60, "used": 0, "remaining": 60}
    assert own["tokens_per_minute"] == {"limit": None, "used": None, "remaining": None}
    assert own["monthly_budget_eur"] == {"limit": "50.00", "used": "1.25", "remaining": "48.75"}
    organization = me["limits"]["organization"]
    assert organization["output_tokens_per_hour"] == {
        "limit": 150_000,
        "used": 0,
        "remaining": 150_000,
    }
    assert organization["monthly_budget_eur"] == {
        "limit": "1000.00",
        "used": "1.75",
        "remaining": "998.25",
    }
    assert me["spend"]["key_eur"] == "1.25"
    assert me["spend"]["organization_eur"] == "1.75"
    assert me["spend"]["remaining_budget_eur"] == "48.75"  # the key's cap is the tighter one
    assert me["spend"]["month_start"].startswith(now.strftime("%Y-%m-01T00:00:00"))
    assert me["credit"] == {"granted_eur": "200.00", "spent_eur": "1.75", "balance_eur": "198.25"}


async def test_me_of_an_invoiced_organization_has_no_credit(
    settings: Settings, admin_key: str
) -> None:
    async with running(settings) as client:
        me = await _ok(await client.get("/v1/me", headers=bearer(admin_key)))
    assert me["key"]["organization"] == "default"
    assert me["key"]["is_admin"] is True
    assert me["credit"] is None
    assert me["spend"] == {**me["spend"], "key_eur": "0.00", "remaining_budget_eur": None}
    assert me["limits"]["organization"]["monthly_budget_eur"] == {
        "limit": None,
        "used": "0.00",
        "remaining": None,
    }


async def test_me_usage_is_restricted_to_the_calling_key(settings: Settings) -> None:
    key_id, secret = await _prepaid_key(settings)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    earlier = day - timedelta(days=40)
    await store_usage(
        settings,
        [
            event(key_id, "acme", "m1", day, prompt=10, completion=4, reasoning=1, cost_micros=7),
            event(key_id, "acme", "m2", day, prompt=5, completion=5, cost_micros=3),
            event(key_id, "acme", "m1", earlier, prompt=1, completion=1, cost_micros=1),
            event("other-key", "acme", "m1", day, prompt=99, completion=99, cost_micros=99),
        ],
    )
    async with running(settings) as client:
        client.headers.update(bearer(secret))
        this_month = await _ok(await client.get("/v1/me/usage?group_by=model"))
        assert [(r["model"], r["requests"], r["cost_micros"]) for r in this_month["data"]] == [
            ("m1", 1, 7),
            ("m2", 1, 3),
        ]
        assert this_month["total"]["cost_eur"] == "0.00001"

        start = (earlier - timedelta(days=1)).date().isoformat()
        end = (day + timedelta(days=1)).date().isoformat()
        both = await _ok(
            await client.get(f"/v1/me/usage?start={start}&end={end}&model=m1&group_by=day")
        )
        assert [(r["day"][:10], r["input_tokens"]) for r in both["data"]] == [
            (earlier.date().isoformat(), 1),
            (day.date().isoformat(), 10),
        ]

        exported = await client.get(
            f"/v1/me/usage?start={start}&end={end}&group_by=model&format=csv"
        )
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.text.splitlines()[1:] == [
            "m1,2,0,11,5,1,0.000,0.000008",
            "m2,1,0,5,5,0,0.000,0.000003",
        ]
        invalid = await client.get("/v1/me/usage?end=not-a-date")
        assert invalid.status_code == 400
        assert invalid.json()["error"]["param"] == "end"


async def test_me_needs_a_valid_key(settings: Settings) -> None:
    async with running(settings) as client:
        missing = await client.get("/v1/me")
        wrong = await client.get("/v1/me", headers=bearer("sk-llmaas-nope"))
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
