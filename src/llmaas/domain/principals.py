"""Who is calling: the result of authentication, handed to every later pipeline stage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    key_name: str
    is_admin: bool = False
    allowed_models: frozenset[str] | None = None

    def may_use(self, model_id: str) -> bool:
        return self.allowed_models is None or model_id in self.allowed_models
