"""API key format, generation and verification.

A key reads ``sk-llmaas-<key id>-<secret><checksum>``. The recognisable prefix lets secret scanners (and
people) spot a leaked key; the checksum (CRC32 of everything before it, six base62 characters, as
GitHub's tokens carry) lets a scanner tell a real key from a look-alike without asking us, and lets the
server refuse a mistyped or forged key before any lookup. Keys issued before checksums (a 40-character
secret) are still accepted. The public key id lets the server find the stored record without a
secret-dependent lookup, after which the secret's keyed hash is compared in constant time. Only the HMAC-SHA256 of the whole key,
keyed with a server secret, is ever stored: a stolen database cannot be replayed as keys, and without the
server secret the hashes cannot even be brute-forced offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from llmaas.domain.guardrails import GuardPolicy
from llmaas.domain.limits import Limits
from llmaas.domain.secrets import Secret
from llmaas.domain.tenants import DEFAULT_ORGANIZATION_ID

KEY_PREFIX = "sk-llmaas-"
KEY_ID_LENGTH = 12
SECRET_LENGTH = 40
CHECKSUM_LENGTH = 6
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class ParsedKey:
    key_id: str
    full_key: Secret


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What is stored about a key: never the key itself."""

    id: str
    name: str
    key_hash: str
    created_at: datetime
    is_admin: bool = False
    allowed_models: frozenset[str] | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    organization_id: str = DEFAULT_ORGANIZATION_ID
    limits: Limits = Limits()
    """The key's own limits, on top of its organization's."""
    previous_key_hash: str | None = None
    """After a rotation, the old secret's hash: still accepted until ``previous_valid_until``."""
    previous_valid_until: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    guardrail_policy: GuardPolicy | None = None
    """This key's guardrail policy, over its organization's; ``None`` keeps the organization's."""

    def is_active(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def accepts_previous(self, now: datetime) -> bool:
        """Whether the pre-rotation secret is still inside its grace period."""
        return (
            self.previous_key_hash is not None
            and self.previous_valid_until is not None
            and now < self.previous_valid_until
        )

    @property
    def display_prefix(self) -> str:
        """What a console or CLI may show to identify the key without revealing it."""
        return f"{KEY_PREFIX}{self.id}-..."


def generate_key() -> tuple[str, Secret]:
    """Return ``(key_id, full_key)`` for a new key, from the OS's CSPRNG."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    return key_id, new_secret_for(key_id)


def new_secret_for(key_id: str) -> Secret:
    """A fresh secret under an existing id: what a rotation hands out."""
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    body = f"{KEY_PREFIX}{key_id}-{secret}"
    return Secret(body + checksum(body))


def checksum(body: str) -> str:
    """CRC32 of the key's text, in six base62 characters (62**6 > 2**32)."""
    value = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(_SECRET_ALPHABET[digit])
    return "".join(reversed(digits))


def parse_key(presented: str) -> ParsedKey | None:
    """Split a presented key into its id; ``None`` when it cannot be one of ours."""
    if not presented.startswith(KEY_PREFIX):
        return None
    rest = presented[len(KEY_PREFIX) :]
    key_id, sep, secret = rest.partition("-")
    if not sep or len(key_id) != KEY_ID_LENGTH:
        return None
    if len(secret) not in (SECRET_LENGTH, SECRET_LENGTH + CHECKSUM_LENGTH):
        return None
    if (
        not all(c in _KEY_ID_ALPHABET for c in key_id)
        or not secret.isalnum()
        or not secret.isascii()
    ):
        return None
    if len(secret) > SECRET_LENGTH:
        body = presented[:-CHECKSUM_LENGTH]
        if not hmac.compare_digest(checksum(body), presented[-CHECKSUM_LENGTH:]):
            return None
    return ParsedKey(key_id=key_id, full_key=Secret(presented))


class KeyHasher:
    """HMAC-SHA256 of keys with the server secret, compared in constant time."""

    def __init__(self, server_secret: Secret) -> None:
        self._secret = server_secret.reveal().encode()

    def hash(self, key: Secret) -> str:
        return hmac.new(self._secret, key.reveal().encode(), hashlib.sha256).hexdigest()

    def matches(self, key: Secret, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(key), stored_hash)
