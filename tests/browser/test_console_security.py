"""The console's defences, over plain HTTP against the real server and the real identity provider.

Cookie flags, CSRF tokens, open redirects, abuse of the login callback, roles and organization
isolation in the admin API, tampered sessions and the pages' security headers. Each test fails if the
protection it names were removed.

The console's cookies are ``Secure``, and an HTTP client's cookie jar does not send those over
``http://127.0.0.1``, so the tests read ``Set-Cookie`` themselves and send a ``Cookie`` header.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.browser.conftest import ALICE, OLGA, ORGANIZATION, VICTOR, Console, Person
from tests.support.oidc_provider import AuthorizationResponse, authorize

SESSION = "llmaas_session"
LOGIN = "llmaas_login"
EVIL = "https://evil.example/x"
KEYS = "/admin/v1/keys"


@dataclass(frozen=True)
class SetCookie:
    value: str
    attributes: dict[str, str]
    """Lower-cased attribute names; a flag (``HttpOnly``) maps to ``""``."""


@dataclass(frozen=True)
class Login:
    session: str
    csrf: str

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        cookie = {"cookie": f"{SESSION}={self.session}"}
        return {**cookie, "x-csrf-token": self.csrf} if csrf else cookie


def call(console: Console, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request with no cookie jar: only the cookies a test names are sent."""
    return httpx.request(method, console.server.root_url + path, timeout=60, **kwargs)


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = header.split(";")
        name, _, value = first.strip().partition("=")
        pairs = (part.strip().partition("=") for part in attributes)
        found[name] = SetCookie(value, {key.lower(): val for key, _, val in pairs})
    return found


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def provider_login(url: str, subject: str) -> AuthorizationResponse:
    """The provider's form, submitted as ``subject`` (on its own event loop, away from Playwright's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, authorize(url, subject)).result()


def begin(console: Console, next_path: str = "/console/") -> tuple[str, str]:
    """Start an SSO login: the sealed ``llmaas_login`` cookie, and the provider's URL."""
    started = call(console, "GET", "/console/login/sso", params={"next": next_path})
    assert started.status_code == 303, started.text
    return set_cookies(started)[LOGIN].value, started.headers["location"]


def callback(
    console: Console, returned: AuthorizationResponse, login_cookie: str | None
) -> httpx.Response:
    headers = {"cookie": f"{LOGIN}={login_cookie}"} if login_cookie else {}
    params = {"code": returned.code, "state": returned.state}
    return call(console, "GET", "/console/callback", params=params, headers=headers)


def csrf_of(page: str) -> str:
    found = re.search(r'<body[^>]*\sdata-csrf="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return html.unescape(found.group(1))


def log_in(console: Console, person: Person, next_path: str = "/console/") -> Login:
    login_cookie, url = begin(console, next_path)
    landed = callback(console, provider_login(url, person.subject), login_cookie)
    assert landed.status_code == 303, landed.text
    session = set_cookies(landed)[SESSION].value
    page = call(console, "GET", "/console/", headers={"cookie": f"{SESSION}={session}"})
    assert page.status_code == 200, page.text
    return Login(session, csrf_of(page.text))


def audit(console: Console) -> list[dict[str, Any]]:
    done = console.server.cli("audit", "list", "--json", "--limit", "100000")
    assert done.returncode == 0, done.stderr
    records: list[dict[str, Any]] = json.loads(done.stdout)
    return records


def failed_logins(console: Console) -> int:
    return sum(1 for record in audit(console) if record["action"] == "login.failed")


def assert_never_recorded(console: Console, *values: str) -> None:
    trail = json.dumps(audit(console))
    logs = console.server.logs()
    for value in values:
        assert value not in logs, "a login's code or state reached the server log"
        assert value not in trail, "a login's code or state reached the audit trail"


@pytest.fixture(scope="module")
def operator(console: Console) -> dict[str, str]:
    """An admin API key (the CLI's credential): ``authorization`` headers."""
    done = console.server.cli("keys", "create", "--name", "ops", "--admin", "--json")
    assert done.returncode == 0, done.stderr
    return {"authorization": f"Bearer {json.loads(done.stdout)['key']}"}


def create_key(console: Console, operator: dict[str, str], name: str, org: str) -> dict[str, Any]:
    made = call(console, "POST", KEYS, headers=operator, json={"name": name, "organization": org})
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()
    return key


@pytest.fixture(scope="module")
def default_key(console: Console, operator: dict[str, str]) -> dict[str, Any]:
    """A key of another organization than acme's, made through the API (so audited)."""
    return create_key(console, operator, "default-org-app", "default")


@pytest.fixture(scope="module")
def acme_key(console: Console, operator: dict[str, str]) -> dict[str, Any]:
    return create_key(console, operator, "acme-app", ORGANIZATION)


@pytest.fixture(scope="module")
def alice(console: Console) -> Login:
    return log_in(console, ALICE)


@pytest.fixture(scope="module")
def victor(console: Console) -> Login:
    return log_in(console, VICTOR)


@pytest.fixture(scope="module")
def olga(console: Console) -> Login:
    return log_in(console, OLGA)


# -- cookies -----------------------------------------------------------------------------------


def test_session_and_login_cookies_carry_their_flags(console: Console) -> None:
    started = call(console, "GET", "/console/login/sso", params={"next": "/console/"})
    login = set_cookies(started)[LOGIN].attributes
    assert login["path"] == "/console/callback" and login["max-age"] == "600"
    assert "httponly" in login and "secure" in login
    returned = provider_login(started.headers["location"], ALICE.subject)
    landed = callback(console, returned, set_cookies(started)[LOGIN].value)
    session = set_cookies(landed)[SESSION].attributes
    assert "httponly" in session and "secure" in session
    assert session["samesite"].lower() == "lax" and session["path"] == "/"


# -- CSRF --------------------------------------------------------------------------------------


def test_an_api_change_needs_the_sessions_csrf_token(console: Console, alice: Login) -> None:
    body = {"name": "csrf-probe"}
    for token in (None, "wrong-token", b"\xe9", b"\xc3\xa9", "%C3%A9"):
        headers: dict[str, str | bytes] = {**alice.headers(csrf=False)}
        if token is not None:
            headers["x-csrf-token"] = token
        refused = call(console, "POST", KEYS, headers=headers, json=body)
        assert refused.status_code == 403, (token, refused.text)
        assert error_code(refused) == "csrf_token_invalid"
    made = call(console, "POST", KEYS, headers=alice.headers(), json=body)
    assert made.status_code == 201, made.text


def test_a_read_needs_no_csrf_token(console: Console, alice: Login) -> None:
    listed = call(console, "GET", KEYS, headers=alice.headers(csrf=False))
    assert listed.status_code == 200, listed.text


def test_logout_without_the_csrf_field_keeps_the_session(console: Console) -> None:
    login = log_in(console, ALICE)
    refused = call(console, "POST", "/console/logout", headers=login.headers(csrf=False))
    assert refused.status_code == 403
    assert SESSION not in set_cookies(refused)
    still = call(console, "GET", "/console/keys", headers=login.headers(csrf=False))
    assert still.status_code == 200


def test_a_logged_out_session_is_dead(console: Console) -> None:
    login = log_in(console, ALICE)
    form = {"csrf_token": login.csrf}
    out = call(console, "POST", "/console/logout", headers=login.headers(csrf=False), data=form)
    assert out.status_code == 303 and set_cookies(out)[SESSION].attributes["max-age"] == "0"
    assert call(console, "GET", KEYS, headers=login.headers()).status_code == 401


def test_switching_organization_needs_the_csrf_field(console: Console, alice: Login) -> None:
    form, headers = {"organization": ORGANIZATION, "next": "/console/"}, alice.headers(csrf=False)
    refused = call(console, "POST", "/console/organization", headers=headers, data=form)
    assert refused.status_code == 403
    form["csrf_token"] = alice.csrf
    switched = call(console, "POST", "/console/organization", headers=headers, data=form)
    assert switched.status_code == 303


# -- open redirects ----------------------------------------------------------------------------


def test_a_login_page_never_sends_to_another_site(console: Console) -> None:
    page = call(console, "GET", "/console/login", params={"next": EVIL})
    link = re.search(r'href="(/console/login/sso\?[^"]*)"', page.text)
    assert link, page.text
    next_path = parse_qs(urlsplit(html.unescape(link.group(1))).query)["next"][0]
    assert next_path == "/console/"
    login_cookie, url = begin(console, next_path)
    landed = callback(console, provider_login(url, ALICE.subject), login_cookie)
    assert landed.headers["location"] == "/console/"


@pytest.mark.parametrize("target", ["//evil.example", EVIL, "/console/../../evil", "/console//x"])
def test_an_sso_login_never_returns_to_another_site(console: Console, target: str) -> None:
    login_cookie, url = begin(console, target)
    landed = callback(console, provider_login(url, ALICE.subject), login_cookie)
    assert landed.status_code == 303 and landed.headers["location"] == "/console/"


def test_the_language_switch_never_sends_to_another_site(console: Console) -> None:
    for target, expected in ((EVIL, "/console/"), ("//evil.example", "/console/")):
        switched = call(console, "GET", "/console/language/fr", params={"next": target})
        assert switched.status_code == 303 and switched.headers["location"] == expected
    kept = call(console, "GET", "/console/language/en", params={"next": "/console/keys"})
    assert kept.headers["location"] == "/console/keys"


def test_a_console_path_is_honoured(console: Console) -> None:
    login_cookie, url = begin(console, "/console/keys")
    landed = callback(console, provider_login(url, ALICE.subject), login_cookie)
    assert landed.headers["location"] == "/console/keys"


# -- the login callback ------------------------------------------------------------------------


def assert_refused(console: Console, refused: httpx.Response, failures_before: int) -> None:
    assert refused.status_code == 403
    assert 'data-testid="login-error"' in refused.text
    assert SESSION not in set_cookies(refused)
    assert failed_logins(console) == failures_before + 1


def test_a_callback_with_a_wrong_state_is_refused(console: Console) -> None:
    before = failed_logins(console)
    login_cookie, url = begin(console)
    returned = provider_login(url, ALICE.subject)
    forged = AuthorizationResponse(returned.code, "forged-" + returned.state)
    assert_refused(console, callback(console, forged, login_cookie), before)
    assert_never_recorded(console, returned.code, returned.state)


def test_a_callback_without_the_login_cookie_is_refused(console: Console) -> None:
    before = failed_logins(console)
    _, url = begin(console)
    returned = provider_login(url, ALICE.subject)
    assert_refused(console, callback(console, returned, None), before)
    assert_never_recorded(console, returned.code, returned.state)


def test_a_replayed_code_is_refused(console: Console) -> None:
    login_cookie, url = begin(console)
    returned = provider_login(url, ALICE.subject)
    assert callback(console, returned, login_cookie).status_code == 303
    before = failed_logins(console)
    assert_refused(console, callback(console, returned, login_cookie), before)
    assert_never_recorded(console, returned.code, returned.state)


def test_a_provider_refusal_is_shown_without_the_links_own_words(console: Console) -> None:
    # error_description is whatever the link says: a crafted link could make a real llmaas page
    # show "call this number"; only the standard refusal is shown.
    params = {"error": "access_denied", "error_description": "Call 555-0100 for support"}
    refused = call(console, "GET", "/console/callback", params=params)
    assert refused.status_code == 403
    assert "did not log you in" in refused.text
    assert "555-0100" not in refused.text
    assert SESSION not in set_cookies(refused)


def test_a_provider_refusal_is_audited(console: Console) -> None:
    before = failed_logins(console)
    call(console, "GET", "/console/callback", params={"error": "access_denied"})
    assert failed_logins(console) == before + 1


# -- roles -------------------------------------------------------------------------------------


def test_a_viewer_reads_keys_but_changes_nothing(
    console: Console, victor: Login, acme_key: dict[str, Any], default_key: dict[str, Any]
) -> None:
    headers = victor.headers()
    created = call(console, "POST", KEYS, headers=headers, json={"name": "nope"})
    assert created.status_code == 403 and error_code(created) == "insufficient_role"
    key = f"{KEYS}/{acme_key['id']}"
    for method, path, body in (
        ("PATCH", key, {"name": "renamed"}),
        ("POST", key + "/rotate", {}),
        ("POST", key + "/revoke", None),
    ):
        refused = call(console, method, path, headers=headers, json=body)
        assert refused.status_code == 403 and error_code(refused) == "insufficient_role"
    assert call(console, "GET", "/admin/v1/audit", headers=headers).status_code == 403
    listed = call(console, "GET", KEYS, headers=headers)
    assert listed.status_code == 200
    organizations = {k["organization"] for k in listed.json()["data"]}
    assert organizations == {ORGANIZATION}
    assert call(console, "GET", key, headers=headers).json()["name"] == "acme-app"


def test_platform_routes_are_the_operators(console: Console, alice: Login, olga: Login) -> None:
    for path in ("/admin/v1/tiers", "/admin/v1/deployments"):
        refused = call(console, "GET", path, headers=alice.headers())
        assert refused.status_code == 403 and error_code(refused) == "insufficient_role"
        assert call(console, "GET", path, headers=olga.headers()).status_code == 200
    body = {"id": "mallory", "name": "Mallory", "tier": "tier-1"}
    made = call(console, "POST", "/admin/v1/organizations", headers=alice.headers(), json=body)
    assert made.status_code == 403 and error_code(made) == "insufficient_role"


# -- organization isolation ----------------------------------------------------------------------


def test_an_org_admin_lists_only_their_keys(
    console: Console, alice: Login, acme_key: dict[str, Any], default_key: dict[str, Any]
) -> None:
    listed = call(console, "GET", KEYS, headers=alice.headers())
    ids = {key["id"] for key in listed.json()["data"]}
    assert acme_key["id"] in ids and default_key["id"] not in ids
    assert {key["organization"] for key in listed.json()["data"]} == {ORGANIZATION}
    other = call(console, "GET", KEYS + "?organization=default", headers=alice.headers())
    assert other.status_code == 404 and error_code(other) == "not_found"


def test_another_orgs_key_does_not_exist_for_an_org_admin(
    console: Console, alice: Login, default_key: dict[str, Any]
) -> None:
    for key_id in (default_key["id"], console.server.key_id):
        path = f"{KEYS}/{key_id}"
        for method, url, body in (
            ("GET", path, None),
            ("PATCH", path, {"name": "hijacked"}),
            ("POST", path + "/rotate", {}),
            ("POST", path + "/revoke", None),
        ):
            refused = call(console, method, url, headers=alice.headers(), json=body)
            assert refused.status_code == 404 and error_code(refused) == "not_found", (method, url)


def test_an_org_admin_creates_keys_only_in_their_org(console: Console, alice: Login) -> None:
    headers = alice.headers()
    elsewhere = {"name": "smuggled", "organization": "default"}
    refused = call(console, "POST", KEYS, headers=headers, json=elsewhere)
    assert refused.status_code == 404 and error_code(refused) == "not_found"
    admin = {"name": "power", "is_admin": True}
    refused = call(console, "POST", KEYS, headers=headers, json=admin)
    assert refused.status_code == 403 and error_code(refused) == "insufficient_role"
    made = call(console, "POST", KEYS, headers=headers, json={"name": "own"})
    assert made.status_code == 201
    assert made.json()["organization"] == ORGANIZATION and made.json()["is_admin"] is False


def usage_by_organization(console: Console, headers: Mapping[str, str]) -> set[str]:
    report = call(console, "GET", "/admin/v1/usage?group_by=organization", headers=headers)
    assert report.status_code == 200, report.text
    return {row["organization"] for row in report.json()["data"]}


def test_an_org_admin_reads_only_their_usage(
    console: Console, alice: Login, operator: dict[str, str], acme_key: dict[str, Any]
) -> None:
    for secret in (acme_key["key"], console.server.api_key):
        used = httpx.post(
            console.server.base_url + "/embeddings",
            headers={"authorization": f"Bearer {secret}"},
            json={"model": "all-minilm:22m", "input": "usage for the isolation test"},
            timeout=60,
        )
        assert used.status_code == 200, used.text
    deadline = time.monotonic() + 20
    while not {ORGANIZATION, "default"} <= usage_by_organization(console, operator):
        assert time.monotonic() < deadline, "usage was never flushed"
        time.sleep(0.5)
    assert usage_by_organization(console, alice.headers()) == {ORGANIZATION}
    other = call(console, "GET", "/admin/v1/usage?organization=default", headers=alice.headers())
    assert other.status_code == 404 and error_code(other) == "not_found"


def test_an_org_admin_sees_only_their_organization(console: Console, alice: Login) -> None:
    listed = call(console, "GET", "/admin/v1/organizations", headers=alice.headers())
    assert [o["id"] for o in listed.json()["data"]] == [ORGANIZATION]
    other = call(console, "GET", "/admin/v1/organizations/default", headers=alice.headers())
    assert other.status_code == 404 and error_code(other) == "not_found"
    own = call(console, "GET", f"/admin/v1/organizations/{ORGANIZATION}", headers=alice.headers())
    assert own.status_code == 200


def test_an_org_admin_reads_only_their_audit_records(
    console: Console, alice: Login, olga: Login, default_key: dict[str, Any]
) -> None:
    trail = call(console, "GET", "/admin/v1/audit?limit=1000", headers=alice.headers())
    assert trail.status_code == 200
    records = trail.json()["data"]
    assert any(r["actor"] == f"sso:{ALICE.subject}" for r in records)
    targets = {r["target"] for r in records}
    assert f"key:{default_key['id']}" not in targets
    assert f"key:{console.server.key_id}" not in targets
    assert not any(r["actor"] == f"sso:{OLGA.subject}" for r in records)


# -- the CLI's credential ----------------------------------------------------------------------


def test_an_admin_key_is_the_operator_without_csrf(
    console: Console, operator: dict[str, str], default_key: dict[str, Any]
) -> None:
    body = {"name": "ops-made", "organization": ORGANIZATION}
    made = call(console, "POST", KEYS, headers=operator, json=body)
    assert made.status_code == 201, made.text
    listed = call(console, "GET", KEYS, headers=operator).json()["data"]
    assert {ORGANIZATION, "default"} <= {key["organization"] for key in listed}
    for path in ("/admin/v1/tiers", "/admin/v1/deployments", "/admin/v1/organizations/default"):
        assert call(console, "GET", path, headers=operator).status_code == 200


# -- tampered sessions ---------------------------------------------------------------------------


def flipped(value: str, at: int) -> str:
    return value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1 :]


def assert_not_a_session(console: Console, cookie: str) -> None:
    headers = {"cookie": f"{SESSION}={cookie}"}
    page = call(console, "GET", "/console/keys", headers=headers)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/login?next=")
    api = call(console, "GET", KEYS, headers=headers)
    assert api.status_code == 401 and error_code(api) == "invalid_api_key"


def test_a_tampered_session_cookie_is_refused(console: Console, alice: Login) -> None:
    for at in (len(alice.session) // 3, len(alice.session) - 5):
        assert_not_a_session(console, flipped(alice.session, at))


def test_a_login_cookie_is_not_a_session(console: Console) -> None:
    login_cookie, _ = begin(console)
    assert_not_a_session(console, login_cookie)


# -- page headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/console/", "/console/keys", "/console/login"])
def test_console_pages_carry_security_headers(console: Console, alice: Login, path: str) -> None:
    logged_in = path != "/console/login"  # which sends a logged-in person on
    page = call(console, "GET", path, headers=alice.headers(csrf=False) if logged_in else {})
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
