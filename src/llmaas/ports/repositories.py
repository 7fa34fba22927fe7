"""Persistence ports."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from llmaas.domain.api_keys import ApiKeyRecord


class ApiKeyRepository(Protocol):
    async def add(self, record: ApiKeyRecord) -> None: ...

    async def get(self, key_id: str) -> ApiKeyRecord | None: ...

    async def list(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]: ...

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Mark the key revoked; ``False`` when no active key has that id."""
        ...

    async def count(self) -> int: ...


class UnitOfWork(Protocol):
    """A transaction: repositories bound to it, committed only by :meth:`commit`."""

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Roll back whatever was not committed."""

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
