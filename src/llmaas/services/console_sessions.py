"""Console logins and sessions: SSO through the company's identity provider, or the local admin key.

A session is a sealed cookie, not a database row: it carries who logged in, the roles their identity
provider gave them, the organization they are looking at and a CSRF token, and any gateway instance can
check it with the shared server secret. It ends at logout, after ``idle_seconds`` without a console
request, and after ``lifetime_seconds`` in any case, when the identity provider is asked again (and
applies its own policies, MFA included). Logging out raises a flag for the session's id in the shared
counters (memory, or Redis for several instances) until the session would have expired anyway, so a copy
of the cookie is dead too, on every instance.

Every login, accepted or refused, is written to the audit trail; a refusal names its reason, never a
token or a code.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from llmaas.domain.audit import Actor, AuditAction
from llmaas.domain.errors import InvalidApiKey, OrganizationDisabled
from llmaas.domain.staff import AdminScope, GroupMapping, Role, StaffMember
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID
from llmaas.ports.clock import Clock
from llmaas.ports.counters import Counters
from llmaas.ports.identity import IdentityError, IdentityProvider, LoginChallenge
from llmaas.ports.sealing import Sealer
from llmaas.services.audit import AuditTrail
from llmaas.services.authentication import Authenticator

_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
LOGIN_SECONDS = 600
"""A login started at the identity provider must come back within this time."""
MFA_METHODS = frozenset({"mfa", "otp", "hwk", "sms", "fpt", "face", "iris", "retina", "vbm", "sc"})
"""RFC 8176 ``amr`` values that are themselves a second factor (or say one was used: ``mfa``)."""


PROVIDER_REFUSED = "Your identity provider did not log you in."
NO_ROLE = (
    "Your account has no llmaas role. Ask your administrator to add you to an llmaas group of "
    "your organization."
)


class LoginRefused(Exception):
    """The login failed; the message is shown to the person and recorded in the audit trail."""


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    groups_claim: str = "groups"
    group_prefix: str = "llmaas"
    require_mfa: bool = False
    mfa_acr_values: frozenset[str] = frozenset()
    """``acr`` values the identity provider uses for a multi-factor login (they also satisfy MFA)."""
    idle_seconds: int = 3_600
    lifetime_seconds: int = 8 * 3_600


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    member: StaffMember
    organization_id: str
    """The organization the console shows; one of the member's, or any for an operator."""
    csrf_token: str
    expires_at: datetime
    via: str
    """``sso`` or ``admin-key``."""
    session_id: str = ""
    """Random, public: names the session for its logout flag."""

    @property
    def scope(self) -> AdminScope:
        scope = self.member.scope_in(self.organization_id)
        assert scope is not None, "a session only ever points at an organization its member may see"
        return scope

    @property
    def role(self) -> Role:
        role = self.member.role_in(self.organization_id)
        assert role is not None
        return role

    @property
    def actor_name(self) -> str:
        return self.member.subject


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """A login sent to the identity provider: what its return must match."""

    challenge: LoginChallenge
    next_path: str


class ConsoleSessions:
    def __init__(
        self,
        *,
        sessions: Sealer,
        logins: Sealer,
        identity: IdentityProvider | None,
        authenticator: Authenticator,
        counters: Counters,
        audit: AuditTrail,
        clock: Clock,
        options: ConsoleOptions = ConsoleOptions(),
    ) -> None:
        self._sessions = sessions
        self._logins = logins
        self._identity = identity
        self._authenticator = authenticator
        self._counters = counters
        self._audit = audit
        self._clock = clock
        self._options = options
        self._groups = GroupMapping(options.group_prefix)

    @property
    def idle_seconds(self) -> int:
        return self._options.idle_seconds

    @property
    def sso(self) -> bool:
        """Whether an identity provider is configured (otherwise the local admin-key login is offered)."""
        return self._identity is not None

    async def begin_sso(self, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """The URL to send the browser to, and the sealed login to keep in a cookie until it returns."""
        identity = self._require_identity()
        try:
            challenge = await identity.challenge(redirect_uri)
        except IdentityError as error:
            raise LoginRefused(str(error)) from None
        sealed = self._logins.seal(
            {
                "state": challenge.state,
                "nonce": challenge.nonce,
                "verifier": challenge.code_verifier,
                "next": next_path,
            }
        )
        return challenge.url, sealed

    async def finish_sso(
        self, *, code: str, state: str, login_cookie: str | None, redirect_uri: str, source: str
    ) -> tuple[ConsoleSession, str]:
        """Check the identity provider's answer against the pending login; the session and where to go."""
        try:
            pending = self._pending(login_cookie, state)
            verified = await self._require_identity().verify(
                code=code, challenge=pending.challenge, redirect_uri=redirect_uri
            )
        except (LoginRefused, IdentityError) as error:
            await self._refused(Actor("sso:unknown", source), str(error))
            raise LoginRefused(str(error)) from None
        claims = verified.claims
        actor = Actor(f"sso:{verified.subject}", source)
        try:
            self._check_mfa(claims)
            member = self._member(verified.subject, claims)
        except LoginRefused as error:
            await self._refused(actor, str(error))
            raise
        session = self._open(member, via="sso")
        await self._audit.record_alone(
            actor, AuditAction.LOGIN_SUCCEEDED, "console", after=_login_summary(session, claims)
        )
        return session, pending.next_path

    async def local_login(self, admin_key: str, source: str) -> ConsoleSession:
        """The embedded default's login: an admin API key makes a platform operator for the session."""
        if self.sso:
            raise LoginRefused("This console logs in through single sign-on only.")
        try:
            principal = await self._authenticator.authenticate(f"Bearer {admin_key.strip()}")
        except (InvalidApiKey, OrganizationDisabled):
            await self._refused(Actor("key:unknown", source), "invalid API key")
            raise LoginRefused("That API key is not valid.") from None
        actor = Actor(f"key:{principal.key_id}", source)
        if not principal.is_admin:
            await self._refused(actor, "not an admin key")
            raise LoginRefused("That API key is valid but is not an admin key.")
        member = StaffMember(f"key:{principal.key_id}", principal.key_name, operator=True)
        session = self._open(member, via="admin-key")
        await self._audit.record_alone(
            actor, AuditAction.LOGIN_SUCCEEDED, "console", after=_login_summary(session, {})
        )
        return session

    async def open(self, cookie: str | None) -> ConsoleSession | None:
        """The session a cookie holds, or ``None`` when it is missing, forged, idle, expired or
        logged out."""
        if not cookie:
            return None
        payload = self._sessions.unseal(cookie, max_age_seconds=self._options.idle_seconds)
        if payload is None:
            return None
        try:
            session = _session_from(payload)
        except (KeyError, TypeError, ValueError):
            return None
        if session.expires_at <= self._clock.now():
            return None
        if session.member.scope_in(session.organization_id) is None:
            return None
        (logged_out,) = await self._counters.read([_logout_flag(session.session_id)])
        return None if logged_out else session

    def seal(self, session: ConsoleSession) -> str:
        """The cookie value; sealing again on each page view is what keeps an active session alive."""
        return self._sessions.seal(_payload_of(session))

    def switch(self, session: ConsoleSession, organization_id: str) -> ConsoleSession | None:
        if session.member.scope_in(organization_id) is None:
            return None
        return replace(session, organization_id=organization_id)

    async def logout(self, session: ConsoleSession, source: str) -> None:
        remaining = (session.expires_at - self._clock.now()).total_seconds()
        await self._counters.set_flag(_logout_flag(session.session_id), max(1, int(remaining) + 1))
        await self._audit.record_alone(
            Actor(session.actor_name, source),
            AuditAction.LOGOUT,
            "console",
            after=_login_summary(session, {}),
        )

    async def provider_refused(self, error: str, source: str) -> str:
        """The identity provider sent the person back with an error: record it, and say so.

        Only the standard error code is shown, never the provider's ``error_description``, which
        anyone could put in a link to this page."""
        code = error if _ERROR_CODE.fullmatch(error) else "invalid_response"
        await self._refused(Actor("sso:unknown", source), f"{PROVIDER_REFUSED} ({code})")
        return PROVIDER_REFUSED

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        if self._identity is None:
            return None
        try:
            return await self._identity.logout_url(post_logout_redirect_uri)
        except IdentityError:
            return None

    def _require_identity(self) -> IdentityProvider:
        if self._identity is None:
            raise LoginRefused("No identity provider is configured.")
        return self._identity

    def _pending(self, login_cookie: str | None, state: str) -> PendingLogin:
        payload = (
            self._logins.unseal(login_cookie, max_age_seconds=LOGIN_SECONDS)
            if login_cookie
            else None
        )
        if payload is None:
            raise LoginRefused("The login expired or was started in another browser. Try again.")
        if not secrets.compare_digest(str(payload.get("state", "")).encode(), state.encode()):
            raise LoginRefused("The login's state does not match. Try again.")
        challenge = LoginChallenge(
            url="", state=state, nonce=str(payload["nonce"]), code_verifier=str(payload["verifier"])
        )
        return PendingLogin(challenge, str(payload.get("next", "")))

    def _check_mfa(self, claims: Mapping[str, Any]) -> None:
        if not self._options.require_mfa:
            return
        amr = claims.get("amr")
        methods = {str(m) for m in amr} if isinstance(amr, list) else set()
        acr = str(claims.get("acr", ""))
        if methods & MFA_METHODS or len(methods) >= 2 or acr in self._options.mfa_acr_values:
            return
        raise LoginRefused(
            "This console requires multi-factor authentication, and your identity provider "
            "reports a single-factor login."
        )

    def _member(self, subject: str, claims: Mapping[str, Any]) -> StaffMember:
        groups = claims.get(self._options.groups_claim, [])
        if isinstance(groups, str):
            groups = groups.split()
        names = [str(g) for g in groups] if isinstance(groups, list) else []
        email = str(claims.get("email", ""))
        name = str(claims.get("name") or claims.get("preferred_username") or email or subject)
        member = self._groups.member(f"sso:{subject}", name, email, names)
        if not member.operator and not member.memberships:
            raise LoginRefused(NO_ROLE)
        return member

    def _open(self, member: StaffMember, *, via: str) -> ConsoleSession:
        organization = (
            DEFAULT_ORGANIZATION_ID
            if member.operator or not member.organizations
            else member.organizations[0]
        )
        return ConsoleSession(
            member=member,
            organization_id=organization,
            csrf_token=secrets.token_urlsafe(32),
            session_id=secrets.token_urlsafe(16),
            expires_at=self._clock.now() + timedelta(seconds=self._options.lifetime_seconds),
            via=via,
        )

    async def _refused(self, actor: Actor, reason: str) -> None:
        await self._audit.record_alone(
            actor, AuditAction.LOGIN_FAILED, "console", after={"reason": reason[:200]}
        )


def _logout_flag(session_id: str) -> str:
    return f"console:logout:{session_id}"


def _login_summary(session: ConsoleSession, claims: Mapping[str, Any]) -> dict[str, Any]:
    member = session.member
    summary: dict[str, Any] = {
        "via": session.via,
        "operator": member.operator,
        "roles": {org: role.value for org, role in member.memberships.items()},
    }
    if "amr" in claims:
        summary["amr"] = [str(m) for m in claims["amr"]] if isinstance(claims["amr"], list) else []
    return summary


def _payload_of(session: ConsoleSession) -> dict[str, Any]:
    member = session.member
    return {
        "v": 1,
        "sub": member.subject,
        "name": member.name,
        "email": member.email,
        "op": member.operator,
        "m": {org: role.value for org, role in member.memberships.items()},
        "org": session.organization_id,
        "csrf": session.csrf_token,
        "exp": int(session.expires_at.timestamp()),
        "via": session.via,
        "sid": session.session_id,
    }


def _session_from(payload: Mapping[str, Any]) -> ConsoleSession:
    if payload.get("v") != 1:
        raise ValueError("unknown session version")
    memberships = {str(org): Role(role) for org, role in dict(payload["m"]).items()}
    member = StaffMember(
        str(payload["sub"]),
        str(payload["name"]),
        str(payload["email"]),
        bool(payload["op"]),
        memberships,
    )
    return ConsoleSession(
        member=member,
        organization_id=str(payload["org"]),
        csrf_token=str(payload["csrf"]),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        via=str(payload["via"]),
        session_id=str(payload["sid"]),
    )
