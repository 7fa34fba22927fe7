"""Signed, timestamped cookies values with itsdangerous (the signer Flask and Starlette sessions use).

Each purpose (a console session, a login in progress) gets its own salt, so a value sealed for one can
never be replayed as the other, and its own key derived from the server secret, which every gateway
instance shares: a session opened on one instance is valid on all of them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from llmaas.domain.secrets import Secret


class SignedSealer:
    def __init__(self, secret: Secret, purpose: str) -> None:
        key = hmac.new(secret.reveal().encode(), b"llmaas-sealing\x00" + purpose.encode(), "sha256")
        self._serializer = URLSafeTimedSerializer(
            key.hexdigest(), salt=purpose, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def seal(self, payload: Mapping[str, Any]) -> str:
        return self._serializer.dumps(dict(payload))

    def unseal(self, token: str, *, max_age_seconds: float) -> dict[str, Any] | None:
        try:
            value = self._serializer.loads(token, max_age=int(max_age_seconds))
        except (BadSignature, ValueError, UnicodeError):
            return None
        return value if isinstance(value, dict) else None
