"""A real OpenID provider process for tests, and a browser-free way through its login form.

The provider is ``oidc-provider-mock`` (Flask and Authlib's server side, under uvicorn), started as
its own process on a free loopback port, so the console's OIDC client is tested over real HTTP against
code it does not share. The mock accepts any client id and secret, shows a form that asks only for a
subject, and puts every claim given to ``PUT /users/<sub>`` into the ID token and the userinfo answer
(``name`` and ``email`` only when the matching scope was asked for; non-standard claims always).
A claim named like one the provider sets itself (``aud``, ``exp``, ``iss``, ``nonce``) replaces it,
which is how tests get a wrong audience, an expired token or a foreign issuer out of a real provider.
Its ``issuer`` is the host the request named, so ``127.0.0.1`` and ``localhost`` give two issuers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from llmaas.ports.identity import IdentityProvider, VerifiedIdentity

_READY_TIMEOUT_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OidcProviderProcess:
    """``python -m oidc_provider_mock`` on 127.0.0.1; its output goes to ``log_path``."""

    def __init__(self, log_path: Path, *, token_max_age_seconds: int | None = None) -> None:
        self.log_path = log_path
        self._token_max_age = token_max_age_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def issuer(self) -> str:
        if self._port is None:
            raise RuntimeError("the OIDC provider is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the OIDC provider is not started")
        return self._port

    def start(self) -> None:
        # Another process may take the free port between our probe and the provider's bind: retry.
        for _ in range(3):
            self._port = _free_port()
            if self._spawn_and_wait():
                return
        raise RuntimeError(
            f"the OIDC provider did not start; see {self.log_path}:\n{self._log_tail()}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> OidcProviderProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """Create or replace a user; its claims land in the ID tokens issued for it from now on."""
        response = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=claims, timeout=10)
        response.raise_for_status()

    def _spawn_and_wait(self) -> bool:
        command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1"]
        command += ["--port", str(self._port), "--require-nonce"]
        if self._token_max_age is not None:
            command += ["--token-max-age", str(self._token_max_age)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # the log file stays open in the child
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"},
            )
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return False
            if self._answers_discovery():
                return True
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"the OIDC provider did not answer within {_READY_TIMEOUT_SECONDS:.0f} s; "
            f"see {self.log_path}:\n{self._log_tail()}"
        )

    def _answers_discovery(self) -> bool:
        try:
            response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        except httpx.TransportError:
            return False
        return response.status_code == 200 and response.json().get("issuer") == self.issuer

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return "(no log)"


@dataclass(frozen=True, slots=True)
class AuthorizationResponse:
    """What the provider's redirect back to the console carried."""

    code: str
    state: str


async def authorize(authorization_url: str, sub: str) -> AuthorizationResponse:
    """Submit the provider's login form as ``sub``, as a browser would, and read the redirect."""
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        response = await client.post(authorization_url, data={"sub": sub})
    if response.status_code != 302:
        raise AssertionError(
            f"the provider answered {response.status_code}, not a redirect: {response.text[:500]}"
        )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    if "code" not in query:
        raise AssertionError(f"the provider redirected without a code: {sorted(query)}")
    return AuthorizationResponse(code=query["code"][0], state=query["state"][0])


async def complete_login(
    identity_provider: IdentityProvider, sub: str, redirect_uri: str
) -> VerifiedIdentity:
    """A whole login: challenge, the provider's form, then the code exchange and token checks."""
    challenge = await identity_provider.challenge(redirect_uri)
    returned = await authorize(challenge.url, sub)
    if returned.state != challenge.state:
        raise AssertionError("the provider returned another state than the one sent")
    return await identity_provider.verify(
        code=returned.code, challenge=challenge, redirect_uri=redirect_uri
    )
