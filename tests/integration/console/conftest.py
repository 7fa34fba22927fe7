"""A real OpenID provider process for the console's login tests, shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oidc_provider import OidcProviderProcess


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProviderProcess]:
    """Users are global to the process: each test sets up its own subject (a fresh name)."""
    log_path = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with OidcProviderProcess(log_path) as provider:
        yield provider
