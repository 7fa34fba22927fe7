"""The console's OIDC client against a real provider process, over real HTTP.

Two providers: ``oidc_provider`` is a real one (oidc-provider-mock in its own process), used for every
check a provider can be asked to fail honestly (a used code, a foreign audience, an expired token).
:class:`_ScriptedProvider` is a small server on a real socket whose every answer the test writes, for
what no honest provider does on demand: rotate its keys, sign badly, answer userinfo about someone else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from llmaas.adapters.oidc import AuthlibIdentityProvider
from llmaas.ports.identity import IdentityError, LoginChallenge
from tests.support.oidc_provider import OidcProviderProcess, authorize, complete_login

REDIRECT_URI = "http://127.0.0.1:9/console/auth/callback"  # read from the redirect, never contacted
CLIENT_ID = "llmaas-console"
CLIENT_SECRET = "client-secret-d41d8cd98f00b204"


def _fresh_sub() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


def _closed_port() -> int:
    """A loopback port that was free a moment ago, so nothing answers on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _provider(issuer: str, **options: Any) -> AuthlibIdentityProvider:
    settings: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET} | options
    return AuthlibIdentityProvider(issuer=issuer, **settings)


@pytest.fixture
async def idp(oidc_provider: OidcProviderProcess) -> AsyncIterator[AuthlibIdentityProvider]:
    provider = _provider(oidc_provider.issuer)
    yield provider
    await provider.close()


# --- against the real provider ------------------------------------------------------------------


async def test_a_login_returns_the_claims_the_provider_holds(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    sub = _fresh_sub()
    oidc_provider.set_user(
        sub,
        {
            "groups": ["llmaas-admins"],
            "amr": ["pwd", "otp"],
            "email": f"{sub}@example.com",
            "name": "Ada",
        },
    )
    challenge = await idp.challenge(REDIRECT_URI)
    returned = await authorize(challenge.url, sub)
    assert returned.state == challenge.state

    identity = await idp.verify(code=returned.code, challenge=challenge, redirect_uri=REDIRECT_URI)

    assert identity.subject == sub
    assert identity.issuer == oidc_provider.issuer
    assert identity.claims["groups"] == ["llmaas-admins"]
    assert identity.claims["amr"] == ["pwd", "otp"]
    assert identity.claims["email"] == f"{sub}@example.com"
    assert identity.claims["name"] == "Ada"
    assert identity.claims["nonce"] == challenge.nonce
    assert identity.claims["aud"] in (CLIENT_ID, [CLIENT_ID])


async def test_the_authorization_url_carries_pkce_state_and_nonce(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    challenge = await idp.challenge(REDIRECT_URI)
    url = urlsplit(challenge.url)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}

    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{oidc_provider.issuer}/oauth2/authorize"
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"].split() == ["openid", "profile", "email"]
    assert query["state"] == challenge.state
    assert query["nonce"] == challenge.nonce
    assert query["code_challenge_method"] == "S256"
    expected = _b64url(hashlib.sha256(challenge.code_verifier.encode()).digest())
    assert query["code_challenge"] == expected
    assert len(challenge.state) >= 32
    assert len(challenge.nonce) >= 32
    assert 43 <= len(challenge.code_verifier) <= 128
    again = await idp.challenge(REDIRECT_URI)
    assert {again.state, again.nonce, again.code_verifier}.isdisjoint(
        {challenge.state, challenge.nonce, challenge.code_verifier}
    )


async def test_the_issuer_may_be_written_with_a_slash_or_under_another_host_name(
    oidc_provider: OidcProviderProcess,
) -> None:
    sub = _fresh_sub()
    for issuer in (f"{oidc_provider.issuer}/", f"http://localhost:{oidc_provider.port}"):
        provider = _provider(issuer)
        try:
            identity = await complete_login(provider, sub, REDIRECT_URI)
        finally:
            await provider.close()
        assert identity.issuer == issuer.removesuffix("/")


async def test_a_wrong_nonce_is_refused(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    challenge = await idp.challenge(REDIRECT_URI)
    returned = await authorize(challenge.url, _fresh_sub())
    forged = replace(challenge, nonce=challenge.nonce[::-1])

    with pytest.raises(IdentityError, match="nonce"):
        await idp.verify(code=returned.code, challenge=forged, redirect_uri=REDIRECT_URI)


async def test_a_code_is_good_for_one_exchange_only(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    challenge = await idp.challenge(REDIRECT_URI)
    returned = await authorize(challenge.url, _fresh_sub())
    await idp.verify(code=returned.code, challenge=challenge, redirect_uri=REDIRECT_URI)

    with pytest.raises(IdentityError, match="refused the code") as raised:
        await idp.verify(code=returned.code, challenge=challenge, redirect_uri=REDIRECT_URI)
    assert returned.code not in _everything_shown(raised.value)


async def test_a_code_issued_to_another_client_is_refused(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    challenge = await idp.challenge(REDIRECT_URI)
    returned = await authorize(challenge.url, _fresh_sub())
    other = _provider(oidc_provider.issuer, client_id="another-client")
    try:
        with pytest.raises(IdentityError):
            await other.verify(code=returned.code, challenge=challenge, redirect_uri=REDIRECT_URI)
    finally:
        await other.close()


async def test_a_token_for_another_audience_is_refused(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    sub = _fresh_sub()
    # azp naming us is no excuse: the audience itself must name this client.
    oidc_provider.set_user(sub, {"aud": "another-client", "azp": CLIENT_ID})

    with pytest.raises(IdentityError, match="'aud'"):
        await complete_login(idp, sub, REDIRECT_URI)


async def test_a_token_from_another_issuer_is_refused(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    sub = _fresh_sub()
    oidc_provider.set_user(sub, {"iss": f"http://localhost:{oidc_provider.port}"})

    with pytest.raises(IdentityError, match="'iss'"):
        await complete_login(idp, sub, REDIRECT_URI)


async def test_an_expired_token_is_refused_past_the_leeway(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    long_expired, just_expired = _fresh_sub(), _fresh_sub()
    oidc_provider.set_user(long_expired, {"exp": int(time.time()) - 3600})
    oidc_provider.set_user(just_expired, {"exp": int(time.time()) - 20})

    with pytest.raises(IdentityError, match="expired"):
        await complete_login(idp, long_expired, REDIRECT_URI)
    assert (await complete_login(idp, just_expired, REDIRECT_URI)).subject == just_expired
    strict = _provider(oidc_provider.issuer, leeway_seconds=0)
    try:
        with pytest.raises(IdentityError, match="expired"):
            await complete_login(strict, just_expired, REDIRECT_URI)
    finally:
        await strict.close()


async def test_the_logout_url_is_the_provider_end_session_endpoint(
    oidc_provider: OidcProviderProcess, idp: AuthlibIdentityProvider
) -> None:
    after = "http://127.0.0.1:9/console/?signed-out=1"
    url = await idp.logout_url(after)

    assert url is not None
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{oidc_provider.issuer}/oauth2/end_session"
    )
    assert parse_qs(parts.query) == {"client_id": [CLIENT_ID], "post_logout_redirect_uri": [after]}
    async with httpx.AsyncClient() as client:
        page = await client.get(url)
    assert page.status_code == 200
    assert "signed-out=1" in page.text


# --- against a scripted provider ----------------------------------------------------------------

NONCE = "n" * 48
CODE = "authorization-code-5f1b2c"
CHALLENGE = LoginChallenge(url="unused", state="s" * 48, nonce=NONCE, code_verifier="v" * 64)


class _ScriptedProvider:
    """Discovery, key set, token and userinfo endpoints answering whatever the test set."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
        self.published: list[RSAKey] = [self.key]
        self.document_overrides: dict[str, Any] = {}
        self.discovery_status = 200
        self.token_status = 200
        self.token_response: dict[str, Any] = {}
        self.userinfo: dict[str, Any] = {"sub": "ada"}
        self.stall_seconds = 0.0
        self._closing = threading.Event()
        self.hits: Counter[str] = Counter()
        self.token_requests: list[tuple[dict[str, str], dict[str, list[str]]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._closing.set()  # wakes a stalled answer, whose client is long gone
        self._server.shutdown()
        self._server.server_close()

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "end_session_endpoint": f"{self.issuer}/logout?tenant=acme",
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        document.update(self.document_overrides)
        return {name: value for name, value in document.items() if value is not None}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "ada", "aud": CLIENT_ID, "iat": now, "exp": now + 300}
        return claims | {"nonce": NONCE} | overrides

    def issue(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """Answer the next code exchange with an ID token over ``claims``, signed by ``key``."""
        key = key or self.key
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        self.token_response = {
            "access_token": f"access-{uuid.uuid4().hex}",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }
        return id_token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                scripted.hits[path] += 1
                scripted._closing.wait(scripted.stall_seconds)
                if path == "/.well-known/openid-configuration":
                    self._answer(scripted.discovery_status, scripted.document())
                elif path == "/jwks":
                    keys = KeySet(list(scripted.published)).as_dict(private=False)
                    self._answer(200, keys)
                elif path == "/userinfo":
                    expected = f"Bearer {scripted.token_response.get('access_token')}"
                    ok = self.headers.get("Authorization") == expected
                    self._answer(200 if ok else 401, scripted.userinfo if ok else {})
                else:
                    self._answer(404, {})

            def do_POST(self) -> None:
                scripted.hits[self.path] += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                scripted.token_requests.append((dict(self.headers), form))
                self._answer(scripted.token_status, scripted.token_response)

            def _answer(self, status: int, body: object) -> None:
                content = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def scripted() -> Iterator[_ScriptedProvider]:
    provider = _ScriptedProvider()
    yield provider
    provider.close()


@pytest.fixture
async def scripted_idp(scripted: _ScriptedProvider) -> AsyncIterator[AuthlibIdentityProvider]:
    provider = _provider(scripted.issuer)
    yield provider
    await provider.close()


async def _verify(provider: AuthlibIdentityProvider) -> dict[str, Any]:
    identity = await provider.verify(code=CODE, challenge=CHALLENGE, redirect_uri=REDIRECT_URI)
    return dict(identity.claims)


def _everything_shown(error: BaseException) -> str:
    """The message and the whole traceback a log line with ``exc_info`` would carry."""
    return str(error) + "".join(traceback.format_exception(error))


def _tampered_payload(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = _b64url(json.dumps(claims | {"sub": "root"}).encode())
    return f"{header}.{forged}.{signature}"


def _tampered_signature(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def _unsigned(claims: dict[str, Any]) -> str:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}."


async def test_the_token_request_carries_the_verifier_and_the_client_credentials(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.issue(scripted.claims())
    await _verify(scripted_idp)
    public = _provider(scripted.issuer, client_secret=None)
    try:
        await _verify(public)
    finally:
        await public.close()

    (confidential_headers, confidential_form), (public_headers, public_form) = (
        scripted.token_requests
    )
    for form in (confidential_form, public_form):
        assert form["grant_type"] == ["authorization_code"]
        assert form["code"] == [CODE]
        assert form["code_verifier"] == [CHALLENGE.code_verifier]
        assert form["redirect_uri"] == [REDIRECT_URI]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert confidential_headers["Authorization"] == f"Basic {basic}"
    assert "Authorization" not in public_headers
    assert public_form["client_id"] == [CLIENT_ID]


@pytest.mark.parametrize("tamper", [_tampered_payload, _tampered_signature])
async def test_a_tampered_id_token_is_refused(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider, tamper: Any
) -> None:
    scripted.issue(scripted.claims())
    scripted.token_response["id_token"] = tamper(scripted.token_response["id_token"])

    with pytest.raises(IdentityError, match="BadSignatureError"):
        await _verify(scripted_idp)


async def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    scripted.issue(scripted.claims(), key=impostor)

    with pytest.raises(IdentityError, match="BadSignatureError"):
        await _verify(scripted_idp)


async def test_an_unsigned_token_is_refused_even_when_the_provider_lists_none(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.document_overrides["id_token_signing_alg_values_supported"] = ["none", "RS256"]
    scripted.issue(scripted.claims())
    scripted.token_response["id_token"] = _unsigned(scripted.claims())

    with pytest.raises(IdentityError, match="rejected"):
        await _verify(scripted_idp)


async def test_a_token_response_without_an_id_token_is_refused(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.issue(scripted.claims())
    del scripted.token_response["id_token"]

    with pytest.raises(IdentityError, match="no ID token"):
        await _verify(scripted_idp)


async def test_an_unknown_key_id_fetches_the_key_set_exactly_once_more(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.issue(scripted.claims())
    await _verify(scripted_idp)
    await _verify(scripted_idp)
    assert scripted.hits["/jwks"] == 1  # cached between logins

    rotated = RSAKey.generate_key(2048, parameters={"kid": "key-2"})
    scripted.published = [rotated]
    scripted.issue(scripted.claims(name="signed with the new key"), key=rotated)
    assert (await _verify(scripted_idp))["name"] == "signed with the new key"
    assert scripted.hits["/jwks"] == 2

    stranger = RSAKey.generate_key(2048, parameters={"kid": "key-3"})
    scripted.issue(scripted.claims(), key=stranger)
    with pytest.raises(IdentityError, match="InvalidKeyIdError"):
        await _verify(scripted_idp)
    assert scripted.hits["/jwks"] == 3

    newcomer = _provider(scripted.issuer)  # a key set fetched just now is not fetched again
    try:
        with pytest.raises(IdentityError, match="InvalidKeyIdError"):
            await _verify(newcomer)
    finally:
        await newcomer.close()
    assert scripted.hits["/jwks"] == 4


async def test_userinfo_completes_the_groups_but_never_who_or_how(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.issue(scripted.claims(amr=["pwd"], email="ada@example.com"))
    scripted.userinfo = {
        "sub": "ada",
        "groups": ["llmaas-admins"],
        "locale": "fr",
        "email": "someone-else@example.com",
        "amr": ["hwk", "mfa"],
        "acr": "urn:high",
        "auth_time": 1,
        "iss": "https://elsewhere.example",
        "aud": "another-client",
        "exp": 4_000_000_000,
        "nonce": "other",
    }

    claims = await _verify(scripted_idp)

    assert claims["groups"] == ["llmaas-admins"]
    assert claims["locale"] == "fr"
    assert claims["email"] == "ada@example.com"
    assert claims["amr"] == ["pwd"]
    assert "acr" not in claims
    assert "auth_time" not in claims
    assert claims["iss"] == scripted.issuer
    assert claims["aud"] == CLIENT_ID
    assert claims["exp"] < 4_000_000_000
    assert claims["nonce"] == NONCE


async def test_userinfo_about_another_subject_is_refused(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.issue(scripted.claims())
    scripted.userinfo = {"sub": "mallory", "groups": ["llmaas-admins"]}

    with pytest.raises(IdentityError, match="another subject"):
        await _verify(scripted_idp)


async def test_userinfo_is_not_asked_when_the_id_token_has_the_groups(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.issue(scripted.claims(groups=["readers"]))
    scripted.userinfo = {"sub": "ada", "groups": ["llmaas-admins"]}

    assert (await _verify(scripted_idp))["groups"] == ["readers"]
    assert scripted.hits["/userinfo"] == 0


async def test_a_discovery_document_for_another_issuer_is_refused_and_retried_later(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    scripted.document_overrides["issuer"] = "https://elsewhere.example"
    with pytest.raises(IdentityError, match="another issuer"):
        await scripted_idp.challenge(REDIRECT_URI)

    scripted.document_overrides.clear()
    scripted.discovery_status = 503
    with pytest.raises(IdentityError, match="HTTP 503"):
        await scripted_idp.challenge(REDIRECT_URI)

    scripted.discovery_status = 200
    await scripted_idp.challenge(REDIRECT_URI)
    await scripted_idp.challenge(REDIRECT_URI)
    assert scripted.hits["/.well-known/openid-configuration"] == 3  # cached once it succeeded


async def test_an_unreachable_or_stalled_provider_is_an_identity_error(
    scripted: _ScriptedProvider,
) -> None:
    unreachable = _provider(f"http://127.0.0.1:{_closed_port()}", timeout_seconds=2)
    with pytest.raises(IdentityError, match="ConnectError"):
        await unreachable.challenge(REDIRECT_URI)
    await unreachable.close()

    scripted.stall_seconds = 5.0
    impatient = _provider(scripted.issuer, timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(IdentityError, match="ReadTimeout"):
        await impatient.challenge(REDIRECT_URI)
    assert time.monotonic() - started < 3.0
    await impatient.close()


async def test_the_logout_url_keeps_the_endpoint_query_and_is_none_when_unpublished(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider
) -> None:
    url = await scripted_idp.logout_url("https://console.example/")
    assert url is not None
    assert url.startswith(f"{scripted.issuer}/logout?")
    assert parse_qs(urlsplit(url).query) == {
        "tenant": ["acme"],
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": ["https://console.example/"],
    }

    scripted.document_overrides["end_session_endpoint"] = None
    unpublished = _provider(scripted.issuer)
    try:
        assert await unpublished.logout_url("https://console.example/") is None
    finally:
        await unpublished.close()


@pytest.mark.parametrize(
    "scenario",
    [
        "refused_code",
        "bad_signature",
        "expired",
        "foreign_audience",
        "userinfo_subject",
        "http_500",
    ],
)
async def test_errors_never_show_the_code_the_tokens_or_the_secret(
    scripted: _ScriptedProvider, scripted_idp: AuthlibIdentityProvider, scenario: str
) -> None:
    id_token = scripted.issue(scripted.claims())
    if scenario == "refused_code":
        scripted.token_status = 400
        scripted.token_response = {
            "error": "invalid_grant",
            "error_description": f"code {CODE} was already used by {CLIENT_SECRET}",
        }
    elif scenario == "bad_signature":
        scripted.token_response["id_token"] = _tampered_signature(id_token)
    elif scenario == "expired":
        scripted.issue(scripted.claims(exp=int(time.time()) - 3600))
    elif scenario == "foreign_audience":
        scripted.issue(scripted.claims(aud="another-client", azp="another-client"))
    elif scenario == "userinfo_subject":
        scripted.userinfo = {"sub": "mallory"}
    else:
        scripted.token_status = 500
    hidden = [CODE, CLIENT_SECRET, CHALLENGE.code_verifier, *scripted.token_response.values()]

    with pytest.raises(IdentityError) as raised:
        await _verify(scripted_idp)

    shown = _everything_shown(raised.value)
    for value in hidden:
        if isinstance(value, str) and len(value) > 16:
            assert value not in shown
