"""The console's part of the composition root: its identity provider and its sessions.

Kept apart from ``app.py`` so the gateway's wiring stays readable; ``app.py`` calls these once.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from llmaas.adapters.oidc import AuthlibIdentityProvider
from llmaas.adapters.sealing import SignedSealer
from llmaas.domain.secrets import Secret
from llmaas.ports.clock import Clock
from llmaas.ports.counters import Counters
from llmaas.ports.identity import IdentityProvider
from llmaas.services.audit import AuditTrail
from llmaas.services.authentication import Authenticator
from llmaas.services.console_sessions import ConsoleOptions, ConsoleSessions
from llmaas.settings import Settings


def identity_provider(settings: Settings) -> AuthlibIdentityProvider | None:
    """The console's OpenID Connect provider, or ``None`` for the local admin-key login."""
    if settings.oidc_issuer is None:
        return None
    if not settings.oidc_client_id:
        raise RuntimeError("LLMAAS_OIDC_ISSUER is set but LLMAAS_OIDC_CLIENT_ID is not.")
    secret = settings.oidc_client_secret
    return AuthlibIdentityProvider(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        scopes=settings.oidc_scopes,
        groups_claim=settings.oidc_groups_claim,
    )


def console_sessions(
    settings: Settings,
    secret: Secret,
    identity: IdentityProvider | None,
    authenticator: Authenticator,
    counters: Counters,
    audit: AuditTrail,
    clock: Clock,
) -> ConsoleSessions:
    return ConsoleSessions(
        sessions=SignedSealer(secret, "console-session"),
        logins=SignedSealer(secret, "console-login"),
        identity=identity,
        authenticator=authenticator,
        counters=counters,
        audit=audit,
        clock=clock,
        options=ConsoleOptions(
            groups_claim=settings.oidc_groups_claim,
            group_prefix=settings.oidc_group_prefix,
            require_mfa=settings.oidc_require_mfa,
            mfa_acr_values=frozenset(settings.oidc_mfa_acr_values),
            idle_seconds=settings.console_idle_minutes * 60,
            lifetime_seconds=settings.console_session_hours * 3_600,
        ),
    )


def origin_of(url: str) -> str:
    """``https://login.example.fr/realms/acme`` -> ``https://login.example.fr`` (for the CSP)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
