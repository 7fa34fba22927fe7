"""Stage 1 of the pipeline: a bearer key becomes a :class:`Principal`.

The hot path is memory only: a verified key stays trusted for ``recheck_seconds``, after which its record
is read again (one indexed lookup), so a key revoked from another process (the CLI, another instance)
stops working within that bound, and at once when revoked through this process. Unknown key ids are
remembered briefly too, so a flood of bad keys cannot turn into a flood of database queries.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from llmaas.domain.api_keys import ApiKeyRecord, KeyHasher, parse_key
from llmaas.domain.errors import InvalidApiKey
from llmaas.domain.principals import Principal
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWorkFactory

_MISSING_KEY = "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
_BAD_KEY = "Incorrect API key provided."


@dataclass(slots=True)
class _CacheEntry:
    record: ApiKeyRecord | None
    principal: Principal | None
    checked_at: float


class Authenticator:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        hasher: KeyHasher,
        clock: Clock,
        *,
        recheck_seconds: float = 5.0,
        negative_cache_size: int = 10_000,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._hasher = hasher
        self._clock = clock
        self._recheck_seconds = recheck_seconds
        self._negative_cache_size = negative_cache_size
        self._known: dict[str, _CacheEntry] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()

    async def authenticate(self, authorization: str | None) -> Principal:
        token = _bearer_token(authorization)
        parsed = parse_key(token)
        if parsed is None:
            raise InvalidApiKey(_BAD_KEY)
        entry = await self._entry(parsed.key_id)
        record = entry.record
        if record is None or entry.principal is None:
            raise InvalidApiKey(_BAD_KEY)
        if not self._hasher.matches(parsed.full_key, record.key_hash):
            raise InvalidApiKey(_BAD_KEY)
        if not record.is_active(self._clock.now()):
            raise InvalidApiKey("This API key has been revoked or has expired.")
        return entry.principal

    def forget(self, key_id: str) -> None:
        """Drop a cached key (after a revocation in this process) so the next request re-reads it."""
        self._known.pop(key_id, None)
        self._unknown.pop(key_id, None)

    async def _entry(self, key_id: str) -> _CacheEntry:
        now = self._clock.monotonic()
        entry = self._known.get(key_id)
        if entry is not None and now - entry.checked_at < self._recheck_seconds:
            return entry
        missed_at = self._unknown.get(key_id)
        if missed_at is not None and now - missed_at < self._recheck_seconds:
            return _CacheEntry(None, None, missed_at)
        async with self._unit_of_work() as uow:
            record = await uow.api_keys.get(key_id)
        if record is None:
            self._remember_unknown(key_id, now)
            self._known.pop(key_id, None)
            return _CacheEntry(None, None, now)
        entry = _CacheEntry(record, _principal_of(record), now)
        self._known[key_id] = entry
        return entry

    def _remember_unknown(self, key_id: str, now: float) -> None:
        self._unknown[key_id] = now
        self._unknown.move_to_end(key_id)
        while len(self._unknown) > self._negative_cache_size:
            self._unknown.popitem(last=False)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidApiKey(_MISSING_KEY)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidApiKey(_MISSING_KEY)
    return token.strip()


def _principal_of(record: ApiKeyRecord) -> Principal:
    return Principal(
        key_id=record.id,
        key_name=record.name,
        is_admin=record.is_admin,
        allowed_models=record.allowed_models,
    )
