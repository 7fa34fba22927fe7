"""The company's identity provider, as the console's login needs it (OpenID Connect underneath).

The console never sees a password: it sends the browser to the provider with a one-time challenge and
gets back a code, which the provider exchanges for a signed ID token. What the provider proves about the
person (subject, groups, how they authenticated) arrives as claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class IdentityError(Exception):
    """The login could not be completed; the message is safe to show and to log (no token, no code)."""


@dataclass(frozen=True, slots=True)
class LoginChallenge:
    """One login attempt's secrets, kept by the browser in a sealed cookie until it comes back."""

    url: str
    """Where to send the browser (the provider's authorization endpoint, with PKCE and nonce)."""
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """Claims of an ID token whose signature, issuer, audience, expiry and nonce were checked."""

    issuer: str
    subject: str
    claims: Mapping[str, Any]
    """The ID token's claims, completed from the userinfo endpoint when it lacked some."""


class IdentityProvider(Protocol):
    async def challenge(self, redirect_uri: str) -> LoginChallenge:
        """Start a login: a fresh state, nonce and PKCE verifier, and the URL to send the browser to."""
        ...

    async def verify(
        self, *, code: str, challenge: LoginChallenge, redirect_uri: str
    ) -> VerifiedIdentity:
        """Exchange the code (with the PKCE verifier) and validate the ID token; :class:`IdentityError`
        when anything does not check out."""
        ...

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """The provider's RP-initiated logout URL, or ``None`` when it publishes none."""
        ...
