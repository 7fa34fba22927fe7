"""Counters in Redis, shared by every gateway instance so that limits do not multiply with replicas.

Why Lua: a request checks several counters (rate windows, budgets, credit, concurrency) and must take
all of them or none. A script runs atomically inside Redis, so two instances can never both squeeze
into the last unit of a limit, and it costs one round trip however many counters are involved.

Why leases for concurrency: a slot is a member of a sorted set scored by its expiry, not a plain
counter, so a crashed instance that never releases its slots cannot hold them beyond the lease; the
script's clock is Redis ``TIME``, so the instances' own clocks do not matter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from llmaas.domain.errors import CountersUnavailable
from llmaas.ports.counters import ReserveResult, SlotClaim, WindowCharge

P = ParamSpec("P")
R = TypeVar("R")

# KEYS: [revocation flag], [seeded marker], charge keys..., slot keys...
# ARGV: charge count, has flag (1/0), has marker (1/0), then (amount, limit, ttl) per charge, (limit,
# lease, ttl) per slot; an empty limit or ttl means none. Reply: {status, refused index, values...}
# where status is 1 admitted, 0 refused, -1 revoked, -2 unseeded (the marker is missing: the counters
# were wiped and are not restored yet), and the index is 0-based (-1 when none).
_RESERVE = """
local n_charges = tonumber(ARGV[1])
local first = 1
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[first]) == 1 then return {-1, -1} end
  first = first + 1
end
if ARGV[3] == '1' then
  if redis.call('EXISTS', KEYS[first]) == 0 then return {-2, -1} end
  first = first + 1
end
local a = 3
local n_slots = #KEYS - first + 1 - n_charges
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local values, existed = {}, {}
local refused = -1
for i = 1, n_charges do
  local raw = redis.call('GET', KEYS[first + i - 1])
  local current = tonumber(raw) or 0
  local limit = ARGV[a + (i - 1) * 3 + 2]
  existed[i] = raw ~= false
  values[i] = current
  if refused < 0 and limit ~= '' and current + tonumber(ARGV[a + (i - 1) * 3 + 1]) > tonumber(limit) then
    refused = i - 1
  end
end
local slot_args = a + n_charges * 3
for j = 1, n_slots do
  local key = KEYS[first + n_charges + j - 1]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
  local taken = redis.call('ZCARD', key)
  values[n_charges + j] = taken
  if refused < 0 and taken >= tonumber(ARGV[slot_args + (j - 1) * 3 + 1]) then
    refused = n_charges + j - 1
  end
end
if refused >= 0 then
  local reply = {0, refused}
  for i = 1, #values do reply[i + 2] = values[i] end
  return reply
end
local reply = {1, -1}
for i = 1, n_charges do
  local key = KEYS[first + i - 1]
  reply[i + 2] = redis.call('INCRBY', key, ARGV[a + (i - 1) * 3 + 1])
  local ttl = ARGV[a + (i - 1) * 3 + 3]
  if not existed[i] and ttl ~= '' then redis.call('EXPIRE', key, ttl) end
end
for j = 1, n_slots do
  local key = KEYS[first + n_charges + j - 1]
  local base = slot_args + (j - 1) * 3
  local expiry = string.format('%d', now_ms + tonumber(ARGV[base + 3]) * 1000)
  redis.call('ZADD', key, expiry, ARGV[base + 2])
  reply[n_charges + j + 2] = redis.call('ZCARD', key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, string.format('%d', tonumber(last[2])))
end
return reply
"""

# KEYS: counter keys..., slot keys...; ARGV: counter count, deltas..., lease ids...
_ADJUST = """
local n_deltas = tonumber(ARGV[1])
for i = 1, n_deltas do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i + 1]) end
end
for j = n_deltas + 1, #KEYS do
  redis.call('ZREM', KEYS[j], ARGV[j + 1])
end
return 0
"""

_ADMITTED, _REVOKED, _UNSEEDED = 1, -1, -2


def _optional(number: int | None) -> int | str:
    return "" if number is None else number


_UNAVAILABLE = (
    "Rate limits and budgets cannot be checked right now (the shared counters are unreachable); "
    "retry shortly."
)


def _unavailable_on_error(
    method: Callable[Concatenate[RedisCounters, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[RedisCounters, P], Coroutine[Any, Any, R]]:
    """A Redis outage is a 503 the client can retry, never a 500: nothing is served unmetered."""

    async def guarded(self: RedisCounters, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        except (RedisError, OSError) as error:
            raise CountersUnavailable(_UNAVAILABLE) from error

    functools.update_wrapper(guarded, method)
    return guarded


class RedisCounters:
    def __init__(self, client: redis_asyncio.Redis, prefix: str = "llmaas:") -> None:
        self._client = client
        self._prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._adjust = client.register_script(_ADJUST)

    @classmethod
    def from_url(cls, url: str, prefix: str = "llmaas:") -> RedisCounters:
        return cls(redis_asyncio.Redis.from_url(url), prefix)

    @_unavailable_on_error
    async def reserve(
        self,
        charges: Sequence[WindowCharge],
        slots: Sequence[SlotClaim] = (),
        *,
        revocation_flag: str | None = None,
        seeded_marker: str | None = None,
    ) -> ReserveResult:
        p = self._prefix
        keys = [] if revocation_flag is None else [p + revocation_flag]
        if seeded_marker is not None:
            keys.append(p + seeded_marker)
        args: list[int | str] = [
            len(charges),
            0 if revocation_flag is None else 1,
            0 if seeded_marker is None else 1,
        ]
        for charge in charges:
            keys.append(p + charge.key)
            args += (charge.amount, _optional(charge.limit), _optional(charge.ttl_seconds))
        for slot in slots:
            keys.append(p + slot.key)
            args += (slot.limit, slot.lease_id, slot.ttl_seconds)
        if not keys:
            return ReserveResult(admitted=True)
        return _reserve_result(await self._reserve(keys=keys, args=args))

    @_unavailable_on_error
    async def adjust(
        self, deltas: Sequence[tuple[str, int]], released_slots: Sequence[tuple[str, str]] = ()
    ) -> None:
        if not deltas and not released_slots:
            return
        p = self._prefix
        keys = [p + key for key, _ in deltas] + [p + key for key, _ in released_slots]
        args: list[int | str] = [len(deltas)]
        args += (delta for _, delta in deltas)
        args += (lease_id for _, lease_id in released_slots)
        await self._adjust(keys=keys, args=args)

    @_unavailable_on_error
    async def read(self, keys: Sequence[str]) -> tuple[int, ...]:
        if not keys:
            return ()
        raw = await self._client.mget([self._prefix + key for key in keys])
        return tuple(0 if value is None else int(value) for value in raw)

    @_unavailable_on_error
    async def seed(self, values: Sequence[tuple[str, int, int | None]]) -> None:
        if not values:
            return
        pipe = self._client.pipeline(transaction=False)
        for key, value, ttl_seconds in values:
            pipe.set(self._prefix + key, value, ex=ttl_seconds, nx=True)
        await pipe.execute()

    @_unavailable_on_error
    async def set_flag(self, key: str, ttl_seconds: int) -> None:
        await self._client.set(self._prefix + key, 1, ex=ttl_seconds)

    @_unavailable_on_error
    async def clear_flag(self, key: str) -> None:
        await self._client.delete(self._prefix + key)

    async def ping(self) -> bool:
        """``False`` rather than an exception: readiness reports an unreachable Redis, it does not crash."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._client.aclose()


def _reserve_result(reply: Sequence[Any]) -> ReserveResult:
    status, refused_at = int(reply[0]), int(reply[1])
    if status == _REVOKED:
        return ReserveResult(admitted=False, revoked=True)
    if status == _UNSEEDED:
        return ReserveResult(admitted=False, unseeded=True)
    values = tuple(int(value) for value in reply[2:])
    if status == _ADMITTED:
        return ReserveResult(admitted=True, values=values)
    return ReserveResult(admitted=False, refused_at=refused_at, values=values)
