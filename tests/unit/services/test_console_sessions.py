"""Console logins (SSO and the local admin key) and the sealed sessions they open."""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.adapters.sealing import SignedSealer
from llmaas.domain.api_keys import KeyHasher
from llmaas.domain.audit import AuditAction, AuditChain, AuditRecord
from llmaas.domain.secrets import Secret
from llmaas.domain.staff import Permission, Role, StaffMember
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID
from llmaas.ports.identity import IdentityError, LoginChallenge, VerifiedIdentity
from llmaas.services.api_keys import ApiKeyService
from llmaas.services.audit import AuditTrail
from llmaas.services.authentication import Authenticator
from llmaas.services.console_sessions import (
    LOGIN_SECONDS,
    PROVIDER_REFUSED,
    ConsoleOptions,
    ConsoleSession,
    ConsoleSessions,
    LoginRefused,
)
from tests.unit.services.fakes import FakeClock

SECRET = Secret("s" * 48)
CALLBACK = "https://llm.example.fr/console/callback"
CODE = "code-Zq8TOPSECRET"
SUBJECT = "u-123"
DEFAULTS = ConsoleOptions()
ACME_ADMIN = {"name": "Alice", "email": "alice@example.fr", "groups": ["llmaas:acme:admin"]}


class FakeIdentity:
    """An identity provider that answers every code with ``claims``, or with ``error``."""

    def __init__(self) -> None:
        self.claims: dict[str, Any] = dict(ACME_ADMIN)
        self.error: IdentityError | None = None
        self.logout: str | None = "https://idp.example.fr/logout"
        self.logout_error: IdentityError | None = None
        self.verified: list[LoginChallenge] = []
        self._count = 0

    async def challenge(self, redirect_uri: str) -> LoginChallenge:
        if self.error is not None:
            raise self.error
        self._count += 1
        n = self._count
        return LoginChallenge(
            url=f"https://idp.example.fr/auth?state=state-{n}&redirect_uri={redirect_uri}",
            state=f"state-{n}",
            nonce=f"nonce-{n}",
            code_verifier=f"verifier-{n}",
        )

    async def verify(
        self, *, code: str, challenge: LoginChallenge, redirect_uri: str
    ) -> VerifiedIdentity:
        self.verified.append(challenge)
        if self.error is not None:
            raise self.error
        return VerifiedIdentity("https://idp.example.fr", SUBJECT, self.claims)

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        if self.logout_error is not None:
            raise self.logout_error
        return None if self.logout is None else f"{self.logout}?to={post_logout_redirect_uri}"


@dataclass
class World:
    clock: FakeClock
    store: MemoryStore
    trail: AuditTrail
    authenticator: Authenticator
    keys: ApiKeyService
    counters: MemoryCounters
    identity: FakeIdentity = field(default_factory=FakeIdentity)

    def sessions(self, options: ConsoleOptions = DEFAULTS, *, sso: bool = True) -> ConsoleSessions:
        return ConsoleSessions(
            sessions=SignedSealer(SECRET, "console-session"),
            logins=SignedSealer(SECRET, "console-login"),
            identity=self.identity if sso else None,
            authenticator=self.authenticator,
            counters=self.counters,
            audit=self.trail,
            clock=self.clock,
            options=options,
        )

    async def audit(self) -> list[AuditRecord]:
        return await self.trail.records()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    clock = FakeClock()
    # itsdangerous stamps and checks ages with time.time(): make it read the fake clock too, so
    # the idle window and the login's 10 minutes move with clock.advance().
    monkeypatch.setattr(
        "itsdangerous.timed.time", types.SimpleNamespace(time=lambda: clock.now().timestamp())
    )
    store = MemoryStore(created_at=clock.now())
    hasher = KeyHasher(Secret("k" * 48))
    authenticator = Authenticator(lambda: MemoryUnitOfWork(store), hasher, clock)
    trail = AuditTrail(lambda: MemoryUnitOfWork(store), AuditChain(SECRET), clock)
    keys = ApiKeyService(lambda: MemoryUnitOfWork(store), hasher, clock, authenticator)
    return World(clock, store, trail, authenticator, keys, MemoryCounters(clock.monotonic))


async def sso_login(
    sessions: ConsoleSessions, next_path: str = "/console/usage"
) -> tuple[ConsoleSession, str]:
    url, cookie = await sessions.begin_sso(CALLBACK, next_path)
    state = url.split("state=")[1].split("&")[0]
    return await sessions.finish_sso(
        code=CODE, state=state, login_cookie=cookie, redirect_uri=CALLBACK, source="10.0.0.7"
    )


async def refused_sso(world: World, sessions: ConsoleSessions, match: str) -> AuditRecord:
    with pytest.raises(LoginRefused, match=match):
        await sso_login(sessions)
    last = (await world.audit())[-1]
    assert last.entry.action is AuditAction.LOGIN_FAILED
    return last


def resealed(cookie: str, **changes: Any) -> str:
    """The session cookie's payload with ``changes``, signed again with the server secret."""
    sealer = SignedSealer(SECRET, "console-session")
    payload = sealer.unseal(cookie, max_age_seconds=60)
    assert payload is not None
    return sealer.seal({**payload, **changes})


# --- SSO ---------------------------------------------------------------------------------------


async def test_an_sso_login_opens_a_session_in_the_first_organization(world: World) -> None:
    world.identity.claims["groups"] = ["llmaas:globex:viewer", "llmaas:acme:admin", "unrelated"]
    session, next_path = await sso_login(world.sessions())
    assert next_path == "/console/usage"
    assert session.member.subject == f"sso:{SUBJECT}"
    assert session.member.name == "Alice"
    assert session.member.email == "alice@example.fr"
    assert dict(session.member.memberships) == {"acme": Role.ADMIN, "globex": Role.VIEWER}
    assert session.organization_id == "acme"
    assert session.role is Role.ADMIN
    assert session.scope.allows(Permission.KEYS_WRITE)
    assert not session.scope.allows(Permission.PLATFORM_READ)
    assert session.via == "sso"
    assert len(session.csrf_token) >= 32
    assert session.expires_at == world.clock.now() + timedelta(hours=8)
    assert session.actor_name == f"sso:{SUBJECT}"


async def test_the_provider_checks_the_nonce_and_verifier_it_issued(world: World) -> None:
    await sso_login(world.sessions())
    (challenge,) = world.identity.verified
    assert (challenge.state, challenge.nonce, challenge.code_verifier) == (
        "state-1",
        "nonce-1",
        "verifier-1",
    )


async def test_a_login_is_audited_with_roles_and_without_secrets(world: World) -> None:
    world.identity.claims["amr"] = ["pwd", "otp"]
    await sso_login(world.sessions())
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_SUCCEEDED
    assert record.entry.actor == f"sso:{SUBJECT}"
    assert record.entry.source == "10.0.0.7"
    assert record.entry.target == "console"
    assert dict(record.entry.after) == {
        "via": "sso",
        "operator": False,
        "roles": {"acme": "admin"},
        "amr": ["pwd", "otp"],
    }
    text = json.dumps([record.entry.before, record.entry.after])
    for secret in (CODE, "state-1", "nonce-1", "verifier-1"):
        assert secret not in text


async def test_an_operator_lands_in_the_default_organization(world: World) -> None:
    world.identity.claims["groups"] = ["llmaas:operator", "llmaas:acme:viewer"]
    session, _ = await sso_login(world.sessions())
    assert session.member.operator
    assert session.organization_id == DEFAULT_ORGANIZATION_ID
    assert session.role is Role.OPERATOR
    assert session.scope.allows(Permission.PLATFORM_WRITE)


async def test_groups_may_come_as_one_string_under_another_claim(world: World) -> None:
    world.identity.claims = {"preferred_username": "bob", "roles": "x llmaas:acme:billing"}
    session, _ = await sso_login(world.sessions(ConsoleOptions(groups_claim="roles")))
    assert dict(session.member.memberships) == {"acme": Role.BILLING}
    assert session.member.name == "bob"


async def test_a_state_that_does_not_match_is_refused_and_audited(world: World) -> None:
    sessions = world.sessions()
    _, cookie = await sessions.begin_sso(CALLBACK, "/console/")
    with pytest.raises(LoginRefused, match="state does not match"):
        await sessions.finish_sso(
            code=CODE, state="state-forged", login_cookie=cookie, redirect_uri=CALLBACK, source="x"
        )
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_FAILED
    assert record.entry.actor == "sso:unknown"
    assert "state does not match" in record.entry.after["reason"]
    assert world.identity.verified == []


async def test_a_non_ascii_state_is_refused_like_any_other(world: World) -> None:
    sessions = world.sessions()
    _, cookie = await sessions.begin_sso(CALLBACK, "/console/")
    with pytest.raises(LoginRefused):
        await sessions.finish_sso(
            code=CODE, state="état", login_cookie=cookie, redirect_uri=CALLBACK, source="x"
        )


@pytest.mark.parametrize("cookie", [None, "", "not-a-sealed-value"])
async def test_a_missing_or_forged_login_cookie_is_refused(
    world: World, cookie: str | None
) -> None:
    sessions = world.sessions()
    await sessions.begin_sso(CALLBACK, "/console/")
    with pytest.raises(LoginRefused, match="expired"):
        await sessions.finish_sso(
            code=CODE, state="state-1", login_cookie=cookie, redirect_uri=CALLBACK, source="x"
        )
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_FAILED


async def test_a_login_must_come_back_within_ten_minutes(world: World) -> None:
    sessions = world.sessions()
    _, cookie = await sessions.begin_sso(CALLBACK, "/console/")
    world.clock.advance(LOGIN_SECONDS + 1)
    with pytest.raises(LoginRefused, match="expired"):
        await sessions.finish_sso(
            code=CODE, state="state-1", login_cookie=cookie, redirect_uri=CALLBACK, source="x"
        )
    assert [r.entry.action for r in await world.audit()] == [AuditAction.LOGIN_FAILED]


async def test_a_login_back_within_ten_minutes_succeeds(world: World) -> None:
    sessions = world.sessions()
    _, cookie = await sessions.begin_sso(CALLBACK, "/console/")
    world.clock.advance(LOGIN_SECONDS - 5)
    session, _ = await sessions.finish_sso(
        code=CODE, state="state-1", login_cookie=cookie, redirect_uri=CALLBACK, source="x"
    )
    assert session.organization_id == "acme"


async def test_an_identity_error_is_refused_and_audited(world: World) -> None:
    sessions = world.sessions()
    _, cookie = await sessions.begin_sso(CALLBACK, "/console/")
    world.identity.error = IdentityError("The ID token's signature does not verify.")
    with pytest.raises(LoginRefused, match="signature"):
        await sessions.finish_sso(
            code=CODE, state="state-1", login_cookie=cookie, redirect_uri=CALLBACK, source="x"
        )
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_FAILED
    assert record.entry.after == {"reason": "The ID token's signature does not verify."}
    assert CODE not in json.dumps(record.entry.after)


async def test_begin_sso_needs_a_provider_that_answers(world: World) -> None:
    url, cookie = await world.sessions().begin_sso(CALLBACK, "/console/keys")
    assert url.startswith("https://idp.example.fr/auth")
    assert cookie and "verifier-1" not in url
    with pytest.raises(LoginRefused, match="No identity provider"):
        await world.sessions(sso=False).begin_sso(CALLBACK, "/console/")
    world.identity.error = IdentityError("discovery failed")
    with pytest.raises(LoginRefused, match="discovery failed"):
        await world.sessions().begin_sso(CALLBACK, "/console/")


async def test_a_user_without_any_llmaas_group_is_refused(world: World) -> None:
    world.identity.claims["groups"] = ["staff", "other:acme:admin", "llmaas:acme:operator"]
    record = await refused_sso(world, world.sessions(), "no llmaas role")
    assert record.entry.actor == f"sso:{SUBJECT}"


async def test_a_user_without_a_groups_claim_is_refused(world: World) -> None:
    del world.identity.claims["groups"]
    await refused_sso(world, world.sessions(), "no llmaas role")


# --- MFA -----------------------------------------------------------------------------------------

MFA = ConsoleOptions(require_mfa=True, mfa_acr_values=frozenset({"urn:acme:loa:mfa"}))


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"amr": ["pwd"]},
        {"amr": ["pwd", "pwd"]},
        {"amr": "mfa"},
        {"amr": []},
        {"acr": "urn:acme:loa:password"},
    ],
)
async def test_mfa_refuses_a_single_factor_login(world: World, claims: dict[str, Any]) -> None:
    world.identity.claims.update(claims)
    record = await refused_sso(world, world.sessions(MFA), "multi-factor")
    assert record.entry.actor == f"sso:{SUBJECT}"
    assert "multi-factor" in record.entry.after["reason"]


@pytest.mark.parametrize(
    "claims",
    [
        {"amr": ["pwd", "mfa"]},
        {"amr": ["pwd", "otp"]},
        {"amr": ["hwk"]},
        {"amr": ["pwd", "kba"]},
        {"acr": "urn:acme:loa:mfa"},
    ],
)
async def test_mfa_accepts_a_second_factor(world: World, claims: dict[str, Any]) -> None:
    world.identity.claims.update(claims)
    session, _ = await sso_login(world.sessions(MFA))
    assert session.via == "sso"


async def test_without_require_mfa_a_password_is_enough(world: World) -> None:
    world.identity.claims["amr"] = ["pwd"]
    session, _ = await sso_login(world.sessions())
    assert session.organization_id == "acme"


# --- open, seal, switch --------------------------------------------------------------------------


async def test_a_sealed_session_opens_again_unchanged(world: World) -> None:
    sessions = world.sessions()
    world.identity.claims["groups"] = ["llmaas:acme:owner", "llmaas:globex:billing"]
    session, _ = await sso_login(sessions)
    opened = await sessions.open(sessions.seal(session))
    assert opened is not None
    assert opened.member == session.member
    assert opened.organization_id == session.organization_id
    assert opened.csrf_token == session.csrf_token
    assert opened.via == session.via
    assert opened.expires_at == session.expires_at.replace(microsecond=0)


@pytest.mark.parametrize("cookie", [None, "", "garbage", "a.b.c"])
async def test_a_missing_or_junk_cookie_opens_nothing(world: World, cookie: str | None) -> None:
    assert await world.sessions().open(cookie) is None


async def test_a_tampered_cookie_opens_nothing(world: World) -> None:
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    cookie = sessions.seal(session)
    middle = len(cookie) // 3
    flipped = cookie[:middle] + ("A" if cookie[middle] != "A" else "B") + cookie[middle + 1 :]
    assert await sessions.open(flipped) is None
    assert await sessions.open(cookie + "x") is None
    assert await sessions.open(cookie[:-1]) is None


async def test_a_cookie_sealed_with_another_secret_opens_nothing(world: World) -> None:
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    payload = SignedSealer(SECRET, "console-session").unseal(
        sessions.seal(session), max_age_seconds=9
    )
    assert payload is not None
    foreign = SignedSealer(Secret("t" * 48), "console-session").seal(payload)
    assert await sessions.open(foreign) is None


async def test_sealer_purposes_are_not_interchangeable(world: World) -> None:
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    payload = SignedSealer(SECRET, "console-session").unseal(
        sessions.seal(session), max_age_seconds=9
    )
    assert payload is not None
    as_login = SignedSealer(SECRET, "console-login").seal(payload)
    assert await sessions.open(as_login) is None
    # ... and the other way: a session cookie is no pending login, a pending login no session.
    _, login_cookie = await sessions.begin_sso(CALLBACK, "/console/")
    assert await sessions.open(login_cookie) is None
    with pytest.raises(LoginRefused, match="expired"):
        await sessions.finish_sso(
            code=CODE,
            state="state-2",
            login_cookie=sessions.seal(session),
            redirect_uri=CALLBACK,
            source="x",
        )


async def test_an_idle_session_expires(world: World) -> None:
    sessions = world.sessions(ConsoleOptions(idle_seconds=600))
    session, _ = await sso_login(sessions)
    cookie = sessions.seal(session)
    world.clock.advance(599)
    assert await sessions.open(cookie) is not None
    world.clock.advance(2)
    assert await sessions.open(cookie) is None


async def test_sealing_again_keeps_an_active_session_alive_until_its_lifetime(
    world: World,
) -> None:
    sessions = world.sessions(ConsoleOptions(idle_seconds=600, lifetime_seconds=3_600))
    session, _ = await sso_login(sessions)
    cookie = sessions.seal(session)
    for _ in range(5):  # 50 minutes of activity, a page every 10 minutes minus a second
        world.clock.advance(599)
        opened = await sessions.open(cookie)
        assert opened is not None
        cookie = sessions.seal(opened)
    world.clock.advance(601)  # past the hour, still within the idle window
    assert await sessions.open(cookie) is None


async def test_a_session_ends_at_its_lifetime_whatever_the_idle_window(world: World) -> None:
    sessions = world.sessions(ConsoleOptions(idle_seconds=100_000, lifetime_seconds=3_600))
    session, _ = await sso_login(sessions)
    cookie = sessions.seal(session)
    world.clock.advance(3_599)
    assert await sessions.open(cookie) is not None
    world.clock.advance(1)
    assert await sessions.open(cookie) is None


async def test_a_cookie_pointing_at_a_foreign_organization_opens_nothing(world: World) -> None:
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    cookie = sessions.seal(session)
    assert await sessions.open(resealed(cookie, org="acme")) is not None
    assert await sessions.open(resealed(cookie, org="globex")) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"v": 2},
        {"m": {"acme": "superuser"}},
        {"m": 3},
        {"exp": "soon"},
        {"sub": None, "m": None},
    ],
)
async def test_a_malformed_payload_opens_nothing(world: World, changes: Mapping[str, Any]) -> None:
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    assert await sessions.open(resealed(sessions.seal(session), **changes)) is None


async def test_a_member_switches_only_to_their_organizations(world: World) -> None:
    world.identity.claims["groups"] = ["llmaas:acme:admin", "llmaas:globex:viewer"]
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    switched = sessions.switch(session, "globex")
    assert switched is not None
    assert switched.organization_id == "globex"
    assert switched.role is Role.VIEWER
    assert switched.csrf_token == session.csrf_token
    assert switched.expires_at == session.expires_at
    assert sessions.switch(session, "initech") is None
    assert sessions.switch(session, "") is None


async def test_an_operator_switches_anywhere(world: World) -> None:
    sessions = world.sessions()
    operator = ConsoleSession(
        StaffMember("sso:ops", "Ops", operator=True),
        DEFAULT_ORGANIZATION_ID,
        "csrf",
        world.clock.now() + timedelta(hours=1),
        "sso",
    )
    for organization in ("acme", "initech", "anything"):
        switched = sessions.switch(operator, organization)
        assert switched == replace(operator, organization_id=organization)
        assert await sessions.open(sessions.seal(switched)) == switched


# --- local login ---------------------------------------------------------------------------------


async def test_an_admin_key_logs_in_as_a_platform_operator(world: World) -> None:
    issued = await world.keys.create("ops laptop", is_admin=True)
    sessions = world.sessions(sso=False)
    assert not sessions.sso
    session = await sessions.local_login(f"  {issued.key.reveal()}\n", "127.0.0.1")
    assert session.via == "admin-key"
    assert session.member.operator
    assert session.member.subject == f"key:{issued.record.id}"
    assert session.member.name == "ops laptop"
    assert session.organization_id == DEFAULT_ORGANIZATION_ID
    assert session.scope.allows(Permission.PLATFORM_WRITE)
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_SUCCEEDED
    assert record.entry.actor == f"key:{issued.record.id}"
    assert record.entry.after == {"via": "admin-key", "operator": True, "roles": {}}
    assert issued.key.reveal() not in json.dumps(record.entry.after)
    assert await sessions.open(sessions.seal(session)) is not None


async def test_a_key_that_is_not_an_admin_key_is_refused(world: World) -> None:
    issued = await world.keys.create("app")
    with pytest.raises(LoginRefused, match="not an admin key"):
        await world.sessions(sso=False).local_login(issued.key.reveal(), "127.0.0.1")
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_FAILED
    assert record.entry.actor == f"key:{issued.record.id}"
    assert record.entry.after == {"reason": "not an admin key"}


@pytest.mark.parametrize("key", ["", "sk-llmaas-nope", "sk-llmaas-abcdefghijkl-" + "Z" * 40])
async def test_an_unknown_key_is_refused(world: World, key: str) -> None:
    with pytest.raises(LoginRefused, match="not valid"):
        await world.sessions(sso=False).local_login(key, "127.0.0.1")
    (record,) = await world.audit()
    assert record.entry.action is AuditAction.LOGIN_FAILED
    assert record.entry.actor == "key:unknown"
    assert record.entry.after == {"reason": "invalid API key"}


async def test_a_revoked_admin_key_is_refused(world: World) -> None:
    issued = await world.keys.create("ops", is_admin=True)
    await world.keys.revoke(issued.record.id)
    with pytest.raises(LoginRefused, match="not valid"):
        await world.sessions(sso=False).local_login(issued.key.reveal(), "127.0.0.1")


async def test_the_local_login_is_closed_when_sso_is_configured(world: World) -> None:
    issued = await world.keys.create("ops", is_admin=True)
    sessions = world.sessions()
    assert sessions.sso
    with pytest.raises(LoginRefused, match="single sign-on only"):
        await sessions.local_login(issued.key.reveal(), "127.0.0.1")


# --- logout --------------------------------------------------------------------------------------


async def test_logout_url_comes_from_the_provider_when_there_is_one(world: World) -> None:
    back = "https://llm.example.fr/console/login?logged_out=1"
    assert await world.sessions().logout_url(back) == f"https://idp.example.fr/logout?to={back}"
    world.identity.logout = None
    assert await world.sessions().logout_url(back) is None
    world.identity.logout_error = IdentityError("no end_session_endpoint")
    assert await world.sessions().logout_url(back) is None
    assert await world.sessions(sso=False).logout_url(back) is None


async def test_a_logged_out_session_no_longer_opens_even_from_a_copy(world: World) -> None:
    sessions = world.sessions()
    session, _ = await sso_login(sessions)
    cookie = sessions.seal(session)
    other, _ = await sso_login(sessions)
    await sessions.logout(session, "10.0.0.7")
    assert await sessions.open(cookie) is None
    assert await sessions.open(sessions.seal(other)) is not None  # only that session ends
    logout = (await world.audit())[-1]
    assert logout.entry.action is AuditAction.LOGOUT
    assert logout.entry.actor == session.member.subject


async def test_a_provider_refusal_is_audited_with_its_code_only(world: World) -> None:
    sessions = world.sessions()
    message = await sessions.provider_refused("access_denied", "10.0.0.7")
    assert message == PROVIDER_REFUSED
    assert await sessions.provider_refused("<b>call 555</b>", "10.0.0.7") == PROVIDER_REFUSED
    first, second = (await world.audit())[-2:]
    assert first.entry.action is AuditAction.LOGIN_FAILED
    assert first.entry.after["reason"].endswith("(access_denied)")
    assert second.entry.after["reason"].endswith("(invalid_response)")
