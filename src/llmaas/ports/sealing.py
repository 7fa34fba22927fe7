"""Sealed values: data the server hands to a browser and must get back unchanged (session cookies).

A sealed value is signed and timestamped, not encrypted: it holds no secret the browser may not see
(who is logged in, their roles, a CSRF token that the page reads anyway), only facts it must not forge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Sealer(Protocol):
    def seal(self, payload: Mapping[str, Any]) -> str: ...

    def unseal(self, token: str, *, max_age_seconds: float) -> dict[str, Any] | None:
        """The payload, or ``None`` when the token was forged, altered, or is older than allowed."""
        ...
