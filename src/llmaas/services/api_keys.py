"""Creating, listing and revoking API keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from llmaas.domain.api_keys import ApiKeyRecord, KeyHasher, generate_key
from llmaas.domain.errors import InvalidRequest, NotFound
from llmaas.domain.secrets import Secret
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWorkFactory
from llmaas.services.authentication import Authenticator


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key: the only moment its secret exists outside the client's hands."""

    record: ApiKeyRecord
    key: Secret


class ApiKeyService:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        hasher: KeyHasher,
        clock: Clock,
        authenticator: Authenticator | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._hasher = hasher
        self._clock = clock
        self._authenticator = authenticator

    async def create(
        self,
        name: str,
        *,
        is_admin: bool = False,
        allowed_models: Iterable[str] | None = None,
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidRequest("A key name must have 1 to 200 characters.", param="name")
        key_id, key = generate_key()
        record = ApiKeyRecord(
            id=key_id,
            name=name,
            key_hash=self._hasher.hash(key),
            created_at=self._clock.now(),
            is_admin=is_admin,
            allowed_models=frozenset(allowed_models) if allowed_models is not None else None,
            expires_at=expires_at,
        )
        async with self._unit_of_work() as uow:
            await uow.api_keys.add(record)
            await uow.commit()
        return IssuedKey(record=record, key=key)

    async def list(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        async with self._unit_of_work() as uow:
            return await uow.api_keys.list(include_revoked=include_revoked)

    async def revoke(self, key_id: str) -> None:
        async with self._unit_of_work() as uow:
            revoked = await uow.api_keys.revoke(key_id, self._clock.now())
            await uow.commit()
        if not revoked:
            raise NotFound(f"No active API key with id '{key_id}'.", param="key_id")
        if self._authenticator is not None:
            self._authenticator.forget(key_id)

    async def has_any(self) -> bool:
        async with self._unit_of_work() as uow:
            return await uow.api_keys.count() > 0
