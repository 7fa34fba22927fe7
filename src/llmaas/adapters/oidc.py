"""The console's single sign-on: an OpenID Connect relying party built on Authlib and joserfc.

Authlib's framework integrations keep the login's secrets in a server-side session and validate the ID
token inside ``authorize_access_token``; the console instead keeps state, nonce and PKCE verifier in its
own sealed cookie (:class:`~llmaas.ports.identity.LoginChallenge`), so this adapter drives Authlib's
lower-level :class:`AsyncOAuth2Client` and repeats the checks of Authlib's ``parse_id_token``. It adds
what that leaves to the caller: the audience must name this client, the nonce is mandatory, ``none`` is
never an accepted algorithm, and the discovery document must be about the configured issuer (a
provider mix-up would otherwise let one issuer's keys vouch for another's users).

Errors carry short messages built here, never the provider's free text, because a token endpoint may
echo the code back and the console logs and shows :class:`IdentityError` as it is.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from llmaas.ports.identity import IdentityError, LoginChallenge, VerifiedIdentity

with warnings.catch_warnings():
    # Authlib 1.9 warns when it falls back from its httpx2 fork to httpx; either serves us.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )

    # Authlib runs on httpx2 where it is installed (the dev tools pull it in) and on httpx otherwise:
    # the errors to catch are those of the library its client is actually built on.
    from authlib.integrations.httpx_client._compat import (  # type: ignore[import-untyped]
        httpx2 as http,
    )

# Claims only the signed ID token may assert: userinfo is not signed and is only fetched to complete
# the profile (groups), never to change who logged in, for whom, when or how strongly.
_ID_TOKEN_ONLY = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "amr", "acr", "auth_time", "azp", "at_hash"}
)
_DISCOVERY_PATH = "/.well-known/openid-configuration"
_REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def _without_trailing_slash(url: str) -> str:
    return url[:-1] if url.endswith("/") else url


class AuthlibIdentityProvider:
    """One OpenID provider, discovered lazily; one HTTP connection pool per instance."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        scopes: str = "openid profile email",
        groups_claim: str = "groups",
        timeout_seconds: float = 10.0,
        leeway_seconds: int = 60,
    ) -> None:
        self._issuer = _without_trailing_slash(issuer)
        self._client_id = client_id
        self._groups_claim = groups_claim
        self._leeway = leeway_seconds
        self._client: Any = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
            scope=scopes,
            code_challenge_method="S256",
            timeout=timeout_seconds,  # a number: both libraries read it the same
        )
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def close(self) -> None:
        await self._client.aclose()

    async def challenge(self, redirect_uri: str) -> LoginChallenge:
        metadata = await self._discover()
        state: str = generate_token(48)
        nonce: str = generate_token(48)
        code_verifier: str = generate_token(64)  # RFC 7636: 43 to 128 characters
        url, _ = self._client.create_authorization_url(
            metadata["authorization_endpoint"],
            state=state,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            nonce=nonce,
        )
        return LoginChallenge(url=str(url), state=state, nonce=nonce, code_verifier=code_verifier)

    async def verify(
        self, *, code: str, challenge: LoginChallenge, redirect_uri: str
    ) -> VerifiedIdentity:
        if not challenge.nonce:
            raise IdentityError("The login attempt carries no nonce.")
        metadata = await self._discover()
        token = await self._exchange(metadata, code, challenge.code_verifier, redirect_uri)
        id_token, access_token = token.get("id_token"), token.get("access_token")
        if not isinstance(id_token, str) or not id_token:
            raise IdentityError("The identity provider returned no ID token.")
        if not isinstance(access_token, str):
            access_token = None
        claims = await self._validate(metadata, id_token, challenge.nonce, access_token)
        if access_token is not None:
            claims = await self._complete_from_userinfo(metadata, claims, access_token)
        return VerifiedIdentity(issuer=claims["iss"], subject=claims["sub"], claims=claims)

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        endpoint = (await self._discover()).get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            return None
        parts = urlsplit(endpoint)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [("client_id", self._client_id)]
        query += [("post_logout_redirect_uri", post_logout_redirect_uri)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is not None:
            return self._metadata
        document = await self._get_json(self._issuer + _DISCOVERY_PATH, "discovery document")
        published = document.get("issuer")
        if not isinstance(published, str) or _without_trailing_slash(published) != self._issuer:
            raise IdentityError("The identity provider's discovery document names another issuer.")
        for name in _REQUIRED_ENDPOINTS:
            if not isinstance(document.get(name), str):
                raise IdentityError(f"The identity provider's discovery document lacks {name}.")
        self._metadata = document
        return document

    async def _exchange(
        self, metadata: Mapping[str, Any], code: str, code_verifier: str, redirect_uri: str
    ) -> Mapping[str, Any]:
        try:
            token = await self._client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            )
        except OAuthError as error:
            # Only the RFC 6749 error code: the free-text description may quote the code back.
            code_name = error.error if isinstance(error.error, str) else ""
            reason = f" ({code_name})" if code_name.isidentifier() else ""
            raise IdentityError(f"The identity provider refused the code{reason}.") from None
        except http.HTTPStatusError as error:
            status = error.response.status_code
            raise IdentityError(f"The token endpoint answered HTTP {status}.") from None
        except (http.HTTPError, http.InvalidURL) as error:
            raise IdentityError(f"The token endpoint failed ({type(error).__name__}).") from None
        except ValueError:
            raise IdentityError("The token endpoint did not answer with JSON.") from None
        finally:
            self._client.token = None  # the client is shared between logins: keep no token on it
        return dict(token)

    async def _validate(
        self, metadata: Mapping[str, Any], id_token: str, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        published = metadata.get("id_token_signing_alg_values_supported")
        algorithms = [a for a in published or () if isinstance(a, str) and a.lower() != "none"]
        registry = JWSRegistry(algorithms=algorithms or ["RS256"], strict_check_header=False)
        cached = self._keys is not None
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(metadata), registry=registry)
            except InvalidKeyIdError:
                if not cached:
                    raise
                # A key id we have not seen: the provider rotated its keys since we cached them.
                self._keys = None
                decoded = jwt.decode(id_token, await self._key_set(metadata), registry=registry)
            options = {
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": self._client_id},
                "sub": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            }
            params = {"nonce": nonce, "client_id": self._client_id, "access_token": access_token}
            claims = CodeIDToken(decoded.claims, decoded.header, options, params)
            claims.validate(leeway=self._leeway)
        except ExpiredTokenError:
            raise IdentityError("The ID token has expired.") from None
        except ClaimError as error:
            raise IdentityError(
                f"The ID token's {error.claim!r} claim does not check out."
            ) from None
        except JoseError as error:
            raise IdentityError(f"The ID token was rejected ({type(error).__name__}).") from None
        return dict(decoded.claims)

    async def _key_set(self, metadata: Mapping[str, Any]) -> KeySet:
        if self._keys is None:
            document = await self._get_json(metadata["jwks_uri"], "key set")
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, KeyError, TypeError, ValueError):
                raise IdentityError("The identity provider's key set is unusable.") from None
        return self._keys

    async def _complete_from_userinfo(
        self, metadata: Mapping[str, Any], claims: dict[str, Any], access_token: str
    ) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if self._groups_claim in claims or not isinstance(endpoint, str):
            return claims
        headers = {"Authorization": f"Bearer {access_token}"}
        info = await self._get_json(endpoint, "userinfo endpoint", headers)
        if info.get("sub") != claims["sub"]:
            raise IdentityError("The userinfo endpoint answered about another subject.")
        extra = {k: v for k, v in info.items() if k not in claims and k not in _ID_TOKEN_ONLY}
        return {**claims, **extra}

    async def _get_json(
        self, url: str, what: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._client.request("GET", url, headers=headers, withhold_token=True)
            response.raise_for_status()
            document = response.json()
        except http.HTTPStatusError as error:
            status = error.response.status_code
            raise IdentityError(f"The identity provider's {what} answered HTTP {status}.") from None
        except (http.HTTPError, http.InvalidURL) as error:
            raise IdentityError(
                f"Could not reach the identity provider's {what} ({type(error).__name__})."
            ) from None
        except ValueError:
            raise IdentityError(f"The identity provider's {what} is not JSON.") from None
        if not isinstance(document, dict):
            raise IdentityError(f"The identity provider's {what} is not a JSON object.")
        return document
