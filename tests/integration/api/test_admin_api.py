"""The admin REST API (``/admin/v1``) on the real application: tiers, organizations, keys, usage."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from llmaas.settings import Settings
from tests.integration.api.conftest import bearer, event, running, store_usage

ADMIN = "/admin/v1"


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_tiers_are_listed_created_read_and_patched(
    settings: Settings, admin_key: str
) -> None:
    async with running(settings) as client:
        client.headers.update(bearer(admin_key))
        listed = await _ok(await client.get(f"{ADMIN}/tiers"))
        assert [t["id"] for t in listed["data"]] == [
            "monthly-billing",
            "tier-1",
            "tier-2",
            "tier-3",
            "tier-4",
        ]
        tier_1 = next(t for t in listed["data"] if t["id"] == "tier-1")
        assert tier_1["purchase_credit_eur"] == "200.00"
        assert tier_1["limits"]["monthly_budget_eur"] == "1000.00"

        created = await _ok(
            await client.post(
                f"{ADMIN}/tiers",
                json={
                    "id": "startup",
                    "name": "Startup",
                    "purchase_credit_eur": "99.990001",
                    "allowed_models": ["m-b", "m-a"],
                    "limits": {"monthly_budget_eur": 500, "requests_per_minute": 60},
                    "guardrail_policy": "flag",
                },
            ),
            201,
        )
        assert created == {
            "object": "tier",
            "id": "startup",
            "name": "Startup",
            "description": "",
            "prepaid": True,
            "purchase_credit_eur": "99.990001",
            "allowed_models": ["m-a", "m-b"],
            "limits": {
                "requests_per_minute": 60,
                "tokens_per_minute": None,
                "output_tokens_per_hour": None,
                "output_tokens_per_day": None,
                "max_concurrent_requests": None,
                "monthly_budget_eur": "500.00",
            },
            "guardrail_policy": "flag",
        }
        assert await _ok(await client.get(f"{ADMIN}/tiers/startup")) == created

        # A merge patch: only the limit sent changes; null clears the purchase credit.
        patched = await _ok(
            await client.patch(
                f"{ADMIN}/tiers/startup",
                json={
                    "description": "For small teams",
                    "purchase_credit_eur": None,
                    "limits": {"monthly_budget_eur": "750.5"},
                    "guardrail_policy": None,
                },
            )
        )
        assert patched["guardrail_policy"] is None  # null: back to the server's policy
        assert patched["description"] == "For small teams"
        assert patched["prepaid"] is False
        assert patched["purchase_credit_eur"] is None
        assert patched["limits"]["monthly_budget_eur"] == "750.50"
        assert patched["limits"]["requests_per_minute"] == 60
        assert patched["allowed_models"] == ["m-a", "m-b"]
        assert await _ok(await client.get(f"{ADMIN}/tiers/startup")) == patched

        unknown = await client.patch(f"{ADMIN}/tiers/startup", json={"guardrail_policy": "maybe"})
        assert _error(unknown, 400)["param"] == "guardrail_policy"
        duplicate = await client.post(f"{ADMIN}/tiers", json={"id": "startup", "name": "Again"})
        assert _error(duplicate, 400)["param"] == "id"
        assert _error(await client.get(f"{ADMIN}/tiers/nope"), 404)["code"] == "not_found"
        missing = await client.patch(f"{ADMIN}/tiers/nope", json={"name": "x"})
        assert _error(missing, 404)["code"] == "not_found"


async def test_organizations_are_created_patched_and_buy_credit(
    settings: Settings, admin_key: str
) -> None:
    async with running(settings) as client:
        client.headers.update(bearer(admin_key))
        created = await _ok(
            await client.post(
                f"{ADMIN}/organizations",
                json={
                    "id": "acme",
                    "name": "ACME SAS",
                    "tier": "tier-1",
                    "limits": {"requests_per_minute": 1200},
                    "data_policy": {"countries": ["fr"], "certifications": ["SecNumCloud"]},
                },
            ),
            201,
        )
        assert created["tier"] == "tier-1"
        assert created["prepaid"] is True
        assert created["credit_granted_eur"] == "200.00"  # joining a prepaid tier buys it
        assert created["credit_spent_eur"] == "0.00"
        assert created["credit_balance_eur"] == "200.00"
        assert created["limits"]["requests_per_minute"] == 1200
        assert created["limits"]["monthly_budget_eur"] is None
        assert created["effective_limits"]["requests_per_minute"] == 1200
        assert created["effective_limits"]["monthly_budget_eur"] == "1000.00"
        assert created["data_policy"] == {"countries": ["FR"], "certifications": ["secnumcloud"]}
        assert created["disabled"] is False

        bought = await _ok(
            await client.post(
                f"{ADMIN}/organizations/acme/credits",
                json={"amount_eur": "500.25", "note": "invoice 42"},
            )
        )
        assert bought["credit_granted_eur"] == "700.25"
        assert bought["credit_balance_eur"] == "700.25"

        patched = await _ok(
            await client.patch(
                f"{ADMIN}/organizations/acme",
                json={"tier": "monthly-billing", "limits": {"monthly_budget_eur": "25000"}},
            )
        )
        assert patched["tier"] == "monthly-billing"
        assert patched["prepaid"] is False
        assert patched["credit_balance_eur"] is None
        assert patched["limits"]["requests_per_minute"] == 1200  # kept: not in the patch
        assert patched["effective_limits"]["monthly_budget_eur"] == "25000.00"

        disabled = await _ok(
            await client.patch(f"{ADMIN}/organizations/acme", json={"disabled": True})
        )
        assert disabled["disabled"] is True
        assert disabled["disabled_at"] is not None
        assert await _ok(await client.get(f"{ADMIN}/organizations/acme")) == disabled

        listed = await _ok(await client.get(f"{ADMIN}/organizations"))
        assert [o["id"] for o in listed["data"]] == ["acme", "default"]

        invoiced = await _ok(
            await client.post(
                f"{ADMIN}/organizations",
                json={"id": "bigcorp", "name": "BigCorp", "tier": "monthly-billing"},
            ),
            201,
        )
        assert invoiced["credit_granted_eur"] == "0.00"
        assert invoiced["credit_balance_eur"] is None


async def test_unknown_objects_are_404(settings: Settings, admin_key: str) -> None:
    async with running(settings) as client:
        client.headers.update(bearer(admin_key))
        for response in (
            await client.get(f"{ADMIN}/organizations/nope"),
            await client.patch(f"{ADMIN}/organizations/nope", json={"name": "x"}),
            await client.post(f"{ADMIN}/organizations/nope/credits", json={"amount_eur": "1"}),
            await client.get(f"{ADMIN}/keys/nope"),
            await client.post(f"{ADMIN}/keys/nope/revoke"),
        ):
            assert _error(response, 404)["code"] == "not_found"
        unknown_org = await client.post(f"{ADMIN}/keys", json={"name": "k", "organization": "nope"})
        assert _error(unknown_org, 404)["param"] == "organization"
        unknown_tier = await client.post(
            f"{ADMIN}/organizations", json={"id": "x", "name": "X", "tier": "nope"}
        )
        assert _error(unknown_tier, 404)["param"] == "tier"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/tiers", {"id": "t", "name": "T", "purchase_credit_eur": 10.5}, "purchase_credit_eur"),
        ("/tiers", {"id": "t", "name": "T", "purchase_credit_eur": 10.0}, "purchase_credit_eur"),
        (
            "/tiers",
            {"id": "t", "name": "T", "limits": {"monthly_budget_eur": 1.25}},
            "limits.monthly_budget_eur",
        ),
        (
            "/tiers",
            {"id": "t", "name": "T", "purchase_credit_eur": "1.0000001"},
            "purchase_credit_eur",
        ),
        ("/tiers", {"id": "t", "name": "T", "purchase_credit_eur": "-1"}, "purchase_credit_eur"),
        ("/tiers", {"id": "t", "name": "T", "purchase_credit_eur": True}, "purchase_credit_eur"),
        ("/organizations/default/credits", {"amount_eur": 5.5}, "amount_eur"),
        ("/organizations/default/credits", {"amount_eur": "0"}, "amount_eur"),
        (
            "/keys",
            {"name": "k", "limits": {"monthly_budget_eur": 0.1}},
            "limits.monthly_budget_eur",
        ),
        ("/keys", {"name": "k", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ("/keys", {"name": "k", "surprise": 1}, "surprise"),
    ],
)
async def test_money_is_never_a_float_and_bodies_are_strict(
    settings: Settings, admin_key: str, path: str, body: dict[str, Any], param: str
) -> None:
    async with running(settings) as client:
        error = _error(await client.post(ADMIN + path, json=body, headers=bearer(admin_key)), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


async def test_keys_are_issued_rotated_and_revoked(settings: Settings, admin_key: str) -> None:
    async with running(settings) as client:
        admin = bearer(admin_key)
        await client.post(
            f"{ADMIN}/organizations",
            json={"id": "acme", "name": "ACME", "tier": "tier-2"},
            headers=admin,
        )
        issued = await _ok(
            await client.post(
                f"{ADMIN}/keys",
                json={
                    "name": "ci",
                    "organization": "acme",
                    "allowed_models": ["qwen"],
                    "limits": {"monthly_budget_eur": "50.00", "requests_per_minute": 60},
                    "expires_at": "2999-01-01T00:00:00Z",
                },
                headers=admin,
            ),
            201,
        )
        key_id, secret = issued["id"], issued["key"]
        assert secret.startswith(f"sk-llmaas-{key_id}-")
        assert issued["prefix"] == f"sk-llmaas-{key_id}-..."
        assert issued["organization"] == "acme"
        assert issued["limits"]["monthly_budget_eur"] == "50.00"
        assert issued["expires_at"].startswith("2999-01-01T00:00:00")

        record = await _ok(await client.get(f"{ADMIN}/keys/{key_id}", headers=admin))
        assert "key" not in record  # the secret is shown once
        assert record == {k: v for k, v in issued.items() if k != "key"}
        listed = await _ok(await client.get(f"{ADMIN}/keys?organization=acme", headers=admin))
        assert [k["id"] for k in listed["data"]] == [key_id]
        assert secret not in str(listed)

        patched = await _ok(
            await client.patch(
                f"{ADMIN}/keys/{key_id}",
                json={"name": "ci-main", "limits": {"monthly_budget_eur": "75"}},
                headers=admin,
            )
        )
        assert patched["name"] == "ci-main"
        assert patched["limits"]["monthly_budget_eur"] == "75.00"
        assert patched["limits"]["requests_per_minute"] == 60
        assert (await _ok(await client.get("/v1/me", headers=bearer(secret))))["key"][
            "id"
        ] == key_id

        rotated = await _ok(
            await client.post(
                f"{ADMIN}/keys/{key_id}/rotate", json={"grace_seconds": 3600}, headers=admin
            )
        )
        new_secret = rotated["key"]
        assert rotated["id"] == key_id
        assert new_secret != secret
        assert rotated["previous_secret_valid_until"] is not None
        for usable in (secret, new_secret):  # the old secret works during the grace period
            me = await _ok(await client.get("/v1/me", headers=bearer(usable)))
            assert me["key"]["name"] == "ci-main"

        # A rotation without a grace period (and without a body: defaults apply, then 0 here).
        default_grace = await _ok(await client.post(f"{ADMIN}/keys/{key_id}/rotate", headers=admin))
        assert default_grace["previous_secret_valid_until"] is not None
        immediate = await _ok(
            await client.post(
                f"{ADMIN}/keys/{key_id}/rotate", json={"grace_seconds": 0}, headers=admin
            )
        )
        assert immediate["previous_secret_valid_until"] is None
        stale = await client.get("/v1/me", headers=bearer(default_grace["key"]))
        assert _error(stale, 401)["code"] == "invalid_api_key"

        revoked = await _ok(await client.post(f"{ADMIN}/keys/{key_id}/revoke", headers=admin))
        assert revoked["revoked_at"] is not None
        after = await client.get("/v1/me", headers=bearer(immediate["key"]))
        assert _error(after, 401)["code"] == "invalid_api_key"
        active = await _ok(await client.get(f"{ADMIN}/keys?organization=acme", headers=admin))
        assert active["data"] == []
        every = await _ok(
            await client.get(f"{ADMIN}/keys?organization=acme&include_revoked=true", headers=admin)
        )
        assert [k["id"] for k in every["data"]] == [key_id]
        again = await client.post(f"{ADMIN}/keys/{key_id}/revoke", headers=admin)
        assert _error(again, 404)["code"] == "not_found"


async def test_only_admin_keys_may_call_the_admin_api(settings: Settings, admin_key: str) -> None:
    async with running(settings) as client:
        issued = await _ok(
            await client.post(f"{ADMIN}/keys", json={"name": "user"}, headers=bearer(admin_key)),
            201,
        )
        user = bearer(issued["key"])
        for method, path in (
            ("GET", "/tiers"),
            ("POST", "/tiers"),
            ("GET", "/organizations"),
            ("POST", "/keys"),
            ("POST", f"/keys/{issued['id']}/revoke"),
            ("GET", "/usage"),
        ):
            response = await client.request(method, ADMIN + path, headers=user, json={})
            error = _error(response, 403)
            assert error["code"] == "admin_required"
            assert error["type"] == "permission_error"
        anonymous = await client.get(f"{ADMIN}/tiers")
        assert _error(anonymous, 401)["code"] == "invalid_api_key"
        # The user's key was not revoked by its own attempt.
        assert (await client.get("/v1/me", headers=user)).status_code == 200


MARCH_1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
MARCH_2 = datetime(2025, 3, 2, 23, 59, tzinfo=UTC)


async def test_usage_report_sums_exactly_in_json_and_csv(
    settings: Settings, admin_key: str
) -> None:
    await store_usage(
        settings,
        [
            event("key-a", "acme", "m1", MARCH_1, prompt=100, completion=50, cost_micros=1_000_001),
            event("key-a", "acme", "m1", MARCH_1, prompt=10, completion=5, cost_micros=2),
            event(
                "key-a",
                "acme",
                "m2",
                MARCH_2,
                prompt=7,
                completion=3,
                reasoning=2,
                cost_micros=333_333,
                failed=True,
            ),
            event("key-b", "other", "m1", MARCH_2, prompt=1, completion=1, cost_micros=10),
            # Outside the period: next month.
            event(
                "key-a",
                "acme",
                "m1",
                datetime(2025, 4, 1, tzinfo=UTC),
                prompt=9,
                completion=9,
                cost_micros=9,
            ),
        ],
    )
    period = "start=2025-03-01&end=2025-04-01"
    async with running(settings) as client:
        client.headers.update(bearer(admin_key))
        report = await _ok(await client.get(f"{ADMIN}/usage?{period}&group_by=key,model,day"))
        assert report["group_by"] == ["key", "model", "day"]
        assert report["data"] == [
            {
                "key": "key-a",
                "model": "m1",
                "day": "2025-03-01T00:00:00+00:00",
                "requests": 2,
                "failed_requests": 0,
                "input_tokens": 110,
                "output_tokens": 55,
                "reasoning_tokens": 0,
                "audio_seconds": 0.0,
                "cost_eur": "1.000003",
                "cost_micros": 1_000_003,
            },
            {
                "key": "key-a",
                "model": "m2",
                "day": "2025-03-02T00:00:00+00:00",
                "requests": 1,
                "failed_requests": 1,
                "input_tokens": 7,
                "output_tokens": 3,
                "reasoning_tokens": 2,
                "audio_seconds": 0.0,
                "cost_eur": "0.333333",
                "cost_micros": 333_333,
            },
            {
                "key": "key-b",
                "model": "m1",
                "day": "2025-03-02T00:00:00+00:00",
                "requests": 1,
                "failed_requests": 0,
                "input_tokens": 1,
                "output_tokens": 1,
                "reasoning_tokens": 0,
                "audio_seconds": 0.0,
                "cost_eur": "0.00001",
                "cost_micros": 10,
            },
        ]
        assert report["total"]["requests"] == 4
        assert report["total"]["cost_micros"] == 1_333_346
        assert report["total"]["cost_eur"] == "1.333346"

        by_org = await _ok(
            await client.get(f"{ADMIN}/usage?{period}&organization=acme&group_by=model")
        )
        assert [(r["model"], r["cost_eur"]) for r in by_org["data"]] == [
            ("m1", "1.000003"),
            ("m2", "0.333333"),
        ]
        one_key = await _ok(await client.get(f"{ADMIN}/usage?{period}&key=key-b&token_type=true"))
        assert one_key["data"][0]["tokens_by_type"] == {"input": 1, "output": 1, "reasoning": 0}
        assert "organization" not in one_key["data"][0]

        exported = await client.get(f"{ADMIN}/usage?{period}&group_by=model&format=csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"] == (
            'attachment; filename="usage-20250301-20250401.csv"'
        )
        assert list(csv.reader(io.StringIO(exported.text))) == [
            [
                "model",
                "requests",
                "failed_requests",
                "input_tokens",
                "output_tokens",
                "reasoning_tokens",
                "audio_seconds",
                "cost_eur",
            ],
            ["m1", "3", "0", "111", "56", "0", "0.000", "1.000013"],
            ["m2", "1", "1", "7", "3", "2", "0.000", "0.333333"],
        ]
        by_type = await client.get(
            f"{ADMIN}/usage?{period}&model=m2&group_by=model&format=csv&token_type=true"
        )
        assert by_type.text.splitlines() == [
            "model,token_type,tokens",
            "m2,input,7",
            "m2,output,1",
            "m2,reasoning,2",
        ]

        # This month by default: nothing stored for it.
        assert (await _ok(await client.get(f"{ADMIN}/usage")))["data"] == []
        for query, param in (
            ("group_by=week", "group_by"),
            ("start=yesterday", "start"),
            ("start=2025-03-02&end=2025-03-01", "end"),
            ("format=xml", "format"),
            ("token_type=maybe", "token_type"),
        ):
            assert _error(await client.get(f"{ADMIN}/usage?{query}"), 400)["param"] == param


async def test_openapi_documents_the_admin_api_with_examples(settings: Settings) -> None:
    async with running(settings) as client:
        document = await _ok(await client.get("/openapi.json"))
    paths = document["paths"]
    expected = {
        "/admin/v1/tiers": {"get", "post"},
        "/admin/v1/tiers/{tier_id}": {"get", "patch"},
        "/admin/v1/organizations": {"get", "post"},
        "/admin/v1/organizations/{organization_id}": {"get", "patch"},
        "/admin/v1/organizations/{organization_id}/credits": {"post"},
        "/admin/v1/keys": {"get", "post"},
        "/admin/v1/keys/{key_id}": {"get", "patch"},
        "/admin/v1/keys/{key_id}/rotate": {"post"},
        "/admin/v1/keys/{key_id}/revoke": {"post"},
        "/admin/v1/usage": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            operation = paths[path][method]
            assert operation["tags"] == ["Admin"]
            assert operation["security"] == [{"bearerAuth": []}]
            success = operation["responses"].get("200") or operation["responses"]["201"]
            assert success["content"]["application/json"]["example"], (path, method)
            assert "403" in operation["responses"]
            if method in ("post", "patch") and "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]
                assert body["examples"], (path, method)
                assert body["schema"]["additionalProperties"] is False
    create_tier = paths["/admin/v1/tiers"]["post"]["requestBody"]["content"]["application/json"]
    budget = create_tier["schema"]["properties"]["purchase_credit_eur"]
    assert {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,6})?$"} in budget["anyOf"][0]["anyOf"]
    assert "text/csv" in paths["/admin/v1/usage"]["get"]["responses"]["200"]["content"]
    schemas = document["components"]["schemas"]
    for name in ("TierOut", "OrganizationOut", "KeyOut", "IssuedKeyOut", "UsageReportOut", "MeOut"):
        assert schemas[name]["examples"], name
    assert paths["/v1/me"]["get"]["tags"] == ["Self-service"]
    assert paths["/v1/me/usage"]["get"]["security"] == [{"bearerAuth": []}]


async def test_admin_actions_are_in_the_audit_trail_with_key_and_address(
    settings: Settings, admin_key: str
) -> None:
    admin_id = admin_key.split("-")[2]
    async with running(settings) as client:
        admin = bearer(admin_key)
        await _ok(
            await client.post(f"{ADMIN}/tiers", json={"id": "gold", "name": "Gold"}, headers=admin),
            201,
        )
        issued = await _ok(
            await client.post(f"{ADMIN}/keys", json={"name": "ci"}, headers=admin), 201
        )
        await _ok(await client.post(f"{ADMIN}/keys/{issued['id']}/revoke", headers=admin))
        trail = await _ok(await client.get(f"{ADMIN}/audit", headers=admin))
        page = await _ok(await client.get(f"{ADMIN}/audit?after=1&limit=1", headers=admin))
        verified = await _ok(await client.get(f"{ADMIN}/audit/verification", headers=admin))
        refused = await client.get(f"{ADMIN}/audit?limit=0", headers=admin)
        other = await _ok(
            await client.post(f"{ADMIN}/keys", json={"name": "app"}, headers=admin), 201
        )
        not_admin = await client.get(f"{ADMIN}/audit", headers=bearer(other["key"]))
    actions = [(r["action"], r["target"], r["actor"]) for r in trail["data"]]
    # The first record is the admin key the fixture created (by the system, not a caller).
    assert actions[0] == ("key.created", f"key:{admin_id}", "system")
    assert actions[1:] == [
        ("tier.created", "tier:gold", f"key:{admin_id}"),
        ("key.created", f"key:{issued['id']}", f"key:{admin_id}"),
        ("key.revoked", f"key:{issued['id']}", f"key:{admin_id}"),
    ]
    assert {r["source"] for r in trail["data"][1:]} == {"127.0.0.1"}
    assert trail["has_more"] is False
    assert [r["sequence"] for r in page["data"]] == [2] and page["has_more"] is True
    assert verified == {"object": "audit.verification", "records": 4, "intact": True, "breaks": []}
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "limit"
    assert not_admin.status_code == 403
