"""The console in a real browser: Debian's Chromium driven by Playwright, a real ``llmaas serve``
process, and a real OpenID Connect provider process, all on 127.0.0.1.

Chromium comes from the project's own test setup (``make system-test-deps``); Playwright's own browser
download is never used. Screenshots of every page land in ``test-artifacts/console`` (or
``$LLMAAS_TEST_ARTIFACTS``) for people to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.conftest import Server, cli, server_environment, start_server, stop_server
from tests.support.oidc_provider import OidcProviderProcess

CHROMIUM = Path("/usr/bin/chromium")
CLIENT_ID = "llmaas-console"
CLIENT_SECRET = "console-client-secret-for-tests"
ORGANIZATION = "acme"
LAPTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class Person:
    subject: str
    name: str
    groups: tuple[str, ...]
    amr: tuple[str, ...]


ALICE = Person(
    "alice@acme.example", "Alice Martin", (f"llmaas:{ORGANIZATION}:admin",), ("pwd", "mfa")
)
VICTOR = Person(
    "victor@acme.example", "Victor Lefèvre", (f"llmaas:{ORGANIZATION}:viewer",), ("pwd", "otp")
)
SAM = Person("sam@acme.example", "Sam Single-Factor", (f"llmaas:{ORGANIZATION}:admin",), ("pwd",))
OLGA = Person("olga@ops.example", "Olga Operator", ("llmaas:operator",), ("pwd", "hwk"))


@dataclass(frozen=True)
class Console:
    server: Server
    provider: OidcProviderProcess

    @property
    def url(self) -> str:
        return self.server.root_url + "/console/"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    directory = Path(os.environ.get("LLMAAS_TEST_ARTIFACTS", "test-artifacts")) / "console"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProviderProcess]:
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with OidcProviderProcess(log) as running:
        for person in (ALICE, VICTOR, SAM, OLGA):
            running.set_user(
                person.subject,
                {
                    "name": person.name,
                    "email": person.subject,
                    "groups": list(person.groups),
                    "amr": list(person.amr),
                },
            )
        yield running


@pytest.fixture(scope="session")
def console(
    tmp_path_factory: pytest.TempPathFactory, provider: OidcProviderProcess
) -> Iterator[Console]:
    """A gateway with the embedded models whose console logs in through the provider, MFA required."""
    data_dir = tmp_path_factory.mktemp("llmaas-console")
    env = {
        "LLMAAS_OIDC_ISSUER": provider.issuer,
        "LLMAAS_OIDC_CLIENT_ID": CLIENT_ID,
        "LLMAAS_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "LLMAAS_OIDC_REQUIRE_MFA": "true",
        # it lives until the whole test session ends: no background probe generations meanwhile
        "LLMAAS_PROBE_INTERVAL_SECONDS": "0",
    }
    environment = server_environment(data_dir, env)
    cli(
        environment, "orgs", "create", ORGANIZATION, "--name", "ACME Industries", "--tier", "tier-1"
    )
    running = start_server(data_dir, env=env)
    try:
        yield Console(running, provider)
    finally:
        stop_server(running)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Module-scoped: Playwright's sync API runs an event loop in this thread for as long as it
    lives, and the async tests that follow (pytest-asyncio's session loop) need the thread back."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run 'make system-test-deps' (apt-get install chromium)"
        )
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


def new_context(
    browser: Browser, *, viewport: dict[str, int] = LAPTOP, locale: str = "en-GB"
) -> BrowserContext:
    context = browser.new_context(viewport=viewport, locale=locale)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context


def log_in(page: Page, console: Console, person: Person, *, path: str = "") -> None:
    """Through the real flow: the console's SSO button, the provider's form, the callback."""
    page.goto(console.url + path)
    page.get_by_test_id("sso-login").click()
    page.wait_for_url(re.compile(re.escape(console.provider.issuer) + r"/oauth2/authorize"))
    page.locator("input[name=sub]").fill(person.subject)
    page.get_by_role("button", name="Authorize").click()


def json_of(text: str) -> dict[str, object]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
