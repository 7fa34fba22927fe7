"""Stage 1 of the pipeline: a bearer key becomes a :class:`Principal`.

The hot path is memory only: a verified key stays trusted for ``recheck_seconds``, after which its record
is read again (one indexed lookup), so a key revoked from another process (the CLI, another instance)
stops working within that bound, and at once when revoked through this process. Unknown key ids are
remembered briefly too, so a flood of bad keys cannot turn into a flood of database queries.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from llmaas.domain.api_keys import ApiKeyRecord, KeyHasher, ParsedKey, parse_key
from llmaas.domain.errors import InvalidApiKey, OrganizationDisabled
from llmaas.domain.principals import Principal
from llmaas.domain.tenants import Organization, Tier, intersect_allowed
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWork, UnitOfWorkFactory

_MISSING_KEY = "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
_BAD_KEY = "Incorrect API key provided."
_MISMATCH_RECHECK_SECONDS = 1.0
"""A secret that does not match may be a rotation done by another instance: re-read, at most this often."""


@dataclass(slots=True)
class _CacheEntry:
    record: ApiKeyRecord | None
    principal: Principal | None
    checked_at: float
    organization_disabled: bool = False


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
        if not self._matches(parsed, entry):
            if self._clock.monotonic() - entry.checked_at < _MISMATCH_RECHECK_SECONDS:
                raise InvalidApiKey(_BAD_KEY)
            self._known.pop(parsed.key_id, None)
            entry = await self._entry(parsed.key_id)
            if not self._matches(parsed, entry):
                raise InvalidApiKey(_BAD_KEY)
        record = entry.record
        assert record is not None
        assert entry.principal is not None
        if not record.is_active(self._clock.now()):
            raise InvalidApiKey("This API key has been revoked or has expired.")
        if entry.organization_disabled:
            raise OrganizationDisabled("The organization of this API key is disabled.")
        return entry.principal

    def _matches(self, parsed: ParsedKey, entry: _CacheEntry) -> bool:
        record = entry.record
        if record is None or entry.principal is None:
            return False
        if self._hasher.matches(parsed.full_key, record.key_hash):
            return True
        return (
            record.previous_key_hash is not None
            and record.accepts_previous(self._clock.now())
            and self._hasher.matches(parsed.full_key, record.previous_key_hash)
        )

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
            loaded = await _load_tenant(uow, record) if record is not None else None
        if record is None or loaded is None:
            self._remember_unknown(key_id, now)
            self._known.pop(key_id, None)
            return _CacheEntry(None, None, now)
        organization, tier = loaded
        entry = _CacheEntry(
            record,
            principal_of(record, organization, tier),
            now,
            organization_disabled=organization.disabled_at is not None,
        )
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


async def _load_tenant(uow: UnitOfWork, record: ApiKeyRecord) -> tuple[Organization, Tier] | None:
    organization = await uow.organizations.get(record.organization_id)
    if organization is None:
        return None
    tier = await uow.tiers.get(organization.tier_id)
    return (organization, tier) if tier is not None else None


def principal_of(record: ApiKeyRecord, organization: Organization, tier: Tier) -> Principal:
    return Principal(
        key_id=record.id,
        key_name=record.name,
        is_admin=record.is_admin,
        allowed_models=intersect_allowed(
            record.allowed_models, organization.effective_models(tier)
        ),
        organization_id=organization.id,
        tier_id=tier.id,
        key_limits=record.limits,
        organization_limits=organization.effective_limits(tier),
        credit_micros=organization.credit_granted_micros if tier.prepaid else None,
        data_policy=organization.data_policy,
        guard_policy=record.guardrail_policy
        or organization.guardrail_policy
        or tier.guardrail_policy,
    )
