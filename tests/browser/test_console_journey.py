"""The console journey of issue 7, in Chromium: an organization admin logs in through SSO, creates a
key, uses it with the official ``openai`` SDK, sees the request on the overview and usage pages,
revokes the key and sees the SDK refused; a viewer cannot create keys (page and API); MFA is enforced.

The tests of one module share one browser context (one logged-in admin) and run in file order, as the
steps of one journey.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import (
    ALICE,
    LAPTOP,
    OLGA,
    ORGANIZATION,
    PHONE,
    SAM,
    VICTOR,
    Console,
    log_in,
    new_context,
)

CHAT_MODEL = "smollm2:135m"
PAGES = ("", "keys", "usage", "catalog", "audit")


class Journey:
    """What one step leaves for the next: the key's secret and id."""

    secret: str = ""
    key_id: str = ""


@pytest.fixture(scope="module")
def admin_context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def admin(admin_context: BrowserContext) -> Page:
    return admin_context.new_page()


def sdk(console: Console, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=console.server.base_url, api_key=secret, max_retries=0)


def test_sso_login_lands_on_the_overview(admin: Page, console: Console, artifacts: Path) -> None:
    admin.goto(console.url + "keys")
    expect(admin).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Fkeys"))
    admin.screenshot(path=artifacts / "login.png", full_page=True)
    log_in(admin, console, ALICE, path="keys")
    # back where the person was going, as themselves, with their role
    expect(admin).to_have_url(console.url + "keys")
    expect(admin.get_by_test_id("who")).to_contain_text("Alice Martin")
    expect(admin.get_by_test_id("role")).to_have_text("admin")
    cookies = {c["name"]: c for c in admin.context.cookies()}
    session = cookies["llmaas_session"]
    assert session["httpOnly"] is True
    assert session["secure"] is True
    assert session["sameSite"] == "Lax"


def test_create_a_key_and_see_its_secret_once(
    admin: Page, console: Console, artifacts: Path
) -> None:
    admin.goto(console.url + "keys")
    if not admin.get_by_test_id("key-name").is_visible():  # open at once while there is no key
        admin.get_by_test_id("open-create").click()
    admin.get_by_test_id("key-name").fill("journey-app")
    admin.get_by_label(CHAT_MODEL).check()
    admin.get_by_test_id("key-rpm").fill("120")
    admin.screenshot(path=artifacts / "keys-create.png", full_page=True)
    admin.get_by_test_id("create-key").click()
    dialog = admin.get_by_test_id("secret-dialog")
    expect(dialog).to_be_visible()
    secret = admin.get_by_test_id("secret-value").inner_text()
    assert secret.startswith("sk-llmaas-")
    admin.screenshot(path=artifacts / "keys-secret-shown-once.png")
    admin.get_by_test_id("close-secret").click()
    row = admin.locator("tr[data-key-name='journey-app']")
    expect(row).to_contain_text("120")
    expect(row).to_contain_text(CHAT_MODEL)
    expect(row.get_by_test_id("status")).to_have_text("active")
    # the secret is not on the page any more, and never will be
    assert secret not in admin.content()
    Journey.secret = secret
    Journey.key_id = row.get_attribute("data-key-id") or ""
    assert Journey.key_id and Journey.key_id in secret


def test_the_key_works_with_the_openai_sdk(console: Console) -> None:
    client = sdk(console, Journey.secret)
    reply = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
    )
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    # the key's model list is what the console allowed: another model does not exist for it
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="all-minilm:22m", input="not allowed for this key")


def test_the_request_appears_on_the_overview(
    admin: Page, console: Console, artifacts: Path
) -> None:
    admin.goto(console.url)
    # the page polls every 5 s; usage is flushed every second: no reload needed
    expect(admin.get_by_test_id("recent-requests")).not_to_have_text("0", timeout=20_000)
    expect(admin.get_by_test_id("month-requests")).not_to_have_text("0", timeout=20_000)
    expect(admin.get_by_test_id("p50")).to_contain_text("ms")
    expect(admin.get_by_test_id("input-tokens")).not_to_have_text("0")
    expect(admin.locator("meter")).to_be_visible()  # tier-1 has a monthly cap
    admin.screenshot(path=artifacts / "overview.png", full_page=True)


def test_the_request_appears_on_the_usage_page(
    admin: Page, console: Console, artifacts: Path
) -> None:
    admin.goto(console.url + "usage")
    by_key = admin.get_by_test_id("by-key")
    expect(by_key).to_contain_text("journey-app")
    row = by_key.locator("tr", has_text="journey-app")
    expect(row.locator("td").nth(1)).to_have_text("1")
    expect(admin.get_by_test_id("by-model")).to_contain_text(CHAT_MODEL)
    assert admin.get_by_test_id("usage-chart").locator("rect").count() >= 1
    admin.screenshot(path=artifacts / "usage.png", full_page=True)
    with admin.expect_download() as download_info:
        admin.get_by_test_id("csv-export").click()
    csv_text = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("day,key,model,requests")
    assert Journey.key_id in csv_text and CHAT_MODEL in csv_text


def test_catalog_and_playground_stream(admin: Page, console: Console, artifacts: Path) -> None:
    admin.goto(console.url + "catalog")
    table = admin.get_by_test_id("catalog-table")
    expect(table.locator(f"tr[data-model='{CHAT_MODEL}']")).to_contain_text("production")
    admin.get_by_test_id("playground-model").select_option(CHAT_MODEL)
    admin.get_by_test_id("playground-key").fill(Journey.secret)
    admin.get_by_test_id("playground-message").fill("Say hello.")
    admin.get_by_test_id("playground-send").click()
    expect(admin.get_by_test_id("playground-output")).not_to_be_empty(timeout=30_000)
    admin.screenshot(path=artifacts / "catalog.png", full_page=True)


def test_the_audit_trail_shows_the_login_and_the_key(
    admin: Page, console: Console, artifacts: Path
) -> None:
    admin.goto(console.url + "audit")
    table = admin.get_by_test_id("audit-table")
    expect(table).to_contain_text("login.succeeded")
    created = table.locator("tr", has_text="key.created")
    expect(created).to_contain_text(f"sso:{ALICE.subject}")
    expect(created).to_contain_text(f"key:{Journey.key_id}")
    admin.screenshot(path=artifacts / "audit.png", full_page=True)


def test_revoking_the_key_refuses_the_sdk(admin: Page, console: Console, artifacts: Path) -> None:
    admin.goto(console.url + "keys")
    row = admin.locator(f"tr[data-key-id='{Journey.key_id}']")
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id("revoke").click()
    expect(row).to_have_count(0)  # the page reloads without it: revoked keys are hidden
    admin.goto(console.url + "keys?revoked=1")
    expect(
        admin.locator(f"tr[data-key-id='{Journey.key_id}']").get_by_test_id("status")
    ).to_have_text("revoked")
    admin.screenshot(path=artifacts / "keys-revoked.png", full_page=True)
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(console, Journey.secret).chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "Still there?"}], max_tokens=4
        )
    assert refused.value.status_code == 401


def test_french_is_chosen_from_the_browser_and_switchable(
    browser: Browser, console: Console, artifacts: Path
) -> None:
    context = new_context(browser, locale="fr-FR")
    try:
        page = context.new_page()
        log_in(page, console, ALICE)
        expect(page.locator("h1")).to_contain_text("Vue d'ensemble")
        expect(page.get_by_test_id("month-spend")).to_contain_text("€")
        assert re.search(r"\d,\d{2,4}\s€", page.get_by_test_id("month-spend").inner_text())
        page.screenshot(path=artifacts / "overview-fr.png", full_page=True)
        page.goto(console.url + "keys")
        expect(page.locator("h1")).to_have_text("Clés d'API")
        page.get_by_role("link", name="EN", exact=True).click()
        expect(page.locator("h1")).to_have_text("API keys")
        expect(page).to_have_url(console.url + "keys")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_page_fits_the_screen(
    browser: Browser, console: Console, artifacts: Path, viewport: dict[str, int]
) -> None:
    context = new_context(browser, viewport=viewport)
    try:
        page = context.new_page()
        log_in(page, console, ALICE)
        expect(page).to_have_url(console.url)
        # from here on, only the console's own pages (the provider's pages are not ours to judge)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                errors.append(f"{message.text} ({message.location.get('url')})")
                if message.type == "error"
                else None
            ),
        )
        label = "phone" if viewport is PHONE else "laptop"
        for path in PAGES:
            page.goto(console.url + path)
            page.screenshot(path=artifacts / f"{label}-{path or 'overview'}.png", full_page=True)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"/console/{path} is {overflow}px wider than a {label} screen"
        assert errors == []  # no script error, no CSP violation, no missing asset
    finally:
        context.close()


def test_a_viewer_cannot_create_keys_in_the_page_or_through_the_api(
    browser: Browser, console: Console, artifacts: Path
) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, console, VICTOR)
        expect(page.get_by_test_id("role")).to_have_text("viewer")
        page.goto(console.url + "keys")
        expect(page.get_by_test_id("keys-table")).to_be_visible()
        expect(page.get_by_test_id("open-create")).to_have_count(0)
        expect(page.get_by_test_id("revoke")).to_have_count(0)
        page.screenshot(path=artifacts / "viewer-keys.png", full_page=True)
        # the API behind the page says no too, with the session and a valid CSRF token
        status, body = page.evaluate(
            """async () => {
                const r = await fetch('/admin/v1/keys', {method: 'POST',
                    headers: {'content-type': 'application/json',
                              'x-csrf-token': document.body.dataset.csrf},
                    body: JSON.stringify({name: 'sneaky'})});
                return [r.status, await r.json()];
            }"""
        )
        assert status == 403
        assert body["error"]["code"] == "insufficient_role"
        page.goto(console.url + "audit")
        page.screenshot(path=artifacts / "viewer-audit-refused.png", full_page=True)
        expect(page.get_by_test_id("forbidden")).to_be_visible()
    finally:
        context.close()
    keys = console.server.cli("keys", "list", "--json")
    assert "sneaky" not in keys.stdout


def test_mfa_required_refuses_a_single_factor_login(
    browser: Browser, console: Console, artifacts: Path
) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, console, SAM)
        error = page.get_by_test_id("login-error")
        expect(error).to_contain_text("multi-factor")
        page.screenshot(path=artifacts / "mfa-refused.png", full_page=True)
        page.goto(console.url)
        expect(page).to_have_url(re.compile(r"/console/login"))
    finally:
        context.close()
    audit = console.server.cli("audit", "list", "--json").stdout
    assert f"sso:{SAM.subject}" in audit and "login.failed" in audit


def test_an_operator_switches_organizations_and_logs_out(
    browser: Browser, console: Console, artifacts: Path
) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, console, OLGA)
        expect(page.get_by_test_id("role")).to_have_text("operator")
        page.get_by_label("Organization").select_option(ORGANIZATION)
        expect(page.locator("h1")).to_contain_text("ACME Industries")
        page.get_by_test_id("logout").click()
        # RP-initiated logout: the provider's end-session page, then back to the console
        page.wait_for_url(re.compile(re.escape(console.provider.issuer) + r"/oauth2/end_session"))
        deadline = time.monotonic() + 5
        while "llmaas_session" in {c["name"] for c in context.cookies()}:
            assert time.monotonic() < deadline, "the session cookie outlived the logout"
            time.sleep(0.1)
        page.goto(console.url)
        expect(page).to_have_url(re.compile(r"/console/login"))
    finally:
        context.close()
    records = json.loads(console.server.cli("audit", "list", "--json").stdout)
    logouts = [r for r in records if r["action"] == "logout"]
    assert [r["actor"] for r in logouts] == [f"sso:{OLGA.subject}"]
