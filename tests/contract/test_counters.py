"""One suite, every ``Counters``: memory and Redis must admit, refuse and expire identically.

Redis is required (CI runs it on 127.0.0.1:6379): when it is unreachable the Redis half fails with a
clear message, it never skips. Each test works under its own random key prefix and deletes its keys.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.adapters.redis.counters import RedisCounters
from llmaas.ports.counters import Counters, ReserveResult, SlotClaim, WindowCharge

REDIS_URL = os.environ.get("LLMAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXPIRY_WAIT = 1.2
"""Past a 1-second TTL, with a margin for Redis's millisecond expiry."""


async def _connect_redis() -> redis_asyncio.Redis:
    client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        unreachable = f"{type(error).__name__}: {error}"
    else:
        return client
    await client.aclose()
    pytest.fail(
        f"Redis is required for this test and is unreachable at {REDIS_URL} ({unreachable}). "
        "Start it, or set LLMAAS_TEST_REDIS_URL."
    )


async def _delete_keys(client: redis_asyncio.Redis, prefix: str) -> None:
    stale = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    if stale:
        await client.delete(*stale)


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "memory":
        memory = MemoryCounters()
        yield memory
        await memory.close()
        return
    client = await _connect_redis()
    prefix = f"llmaas-test:{uuid.uuid4().hex}:"
    redis_counters = RedisCounters(client, prefix=prefix)
    try:
        yield redis_counters
    finally:
        await _delete_keys(client, prefix)
        await redis_counters.close()


def charge(key: str, amount: int, limit: int | None, ttl: int | None = 60) -> WindowCharge:
    return WindowCharge(key=key, amount=amount, limit=limit, ttl_seconds=ttl)


def slot(key: str, lease_id: str, limit: int, ttl: int = 60) -> SlotClaim:
    return SlotClaim(key=key, limit=limit, lease_id=lease_id, ttl_seconds=ttl)


async def test_charges_within_their_limits_are_admitted_with_their_new_values(
    counters: Counters,
) -> None:
    first = await counters.reserve([charge("a", 3, 10), charge("b", 5, 5)])
    second = await counters.reserve([charge("a", 7, 10), charge("c", 1, 1)])

    assert first == ReserveResult(admitted=True, values=(3, 5))
    assert second == ReserveResult(admitted=True, values=(10, 1))
    assert await counters.read(["a", "b", "c"]) == (10, 5, 1)


async def test_one_charge_over_its_limit_refuses_all_and_charges_nothing(
    counters: Counters,
) -> None:
    await counters.reserve([charge("a", 1, None), charge("b", 8, None), charge("c", 2, None)])

    result = await counters.reserve(
        [charge("a", 1, 100), charge("b", 3, 10), charge("c", 9, 10)], [slot("s", "lease", 5)]
    )

    assert result == ReserveResult(admitted=False, refused_at=1, values=(1, 8, 2, 0))
    assert await counters.read(["a", "b", "c"]) == (1, 8, 2)
    # The slot was not taken either: its single place is still free.
    assert (await counters.reserve([], [slot("s", "other", 1)])).admitted


async def test_limit_none_counts_without_ever_refusing(counters: Counters) -> None:
    for _ in range(3):
        result = await counters.reserve([charge("spend", 10**12, None, ttl=None)])
        assert result.admitted

    assert await counters.read(["spend"]) == (3 * 10**12,)


async def test_concurrent_reserves_never_overshoot_the_limit(counters: Counters) -> None:
    fits = 37
    results = await asyncio.gather(
        *(counters.reserve([charge("tokens", 3, 3 * fits + 2)]) for _ in range(100))
    )

    admitted = [result for result in results if result.admitted]
    assert len(admitted) == fits
    assert sorted(result.values[0] for result in admitted) == list(range(3, 3 * fits + 1, 3))
    assert all(result.refused_at == 0 for result in results if not result.admitted)
    assert await counters.read(["tokens"]) == (3 * fits,)


async def test_slots_respect_their_limit_and_come_back_when_released(counters: Counters) -> None:
    assert await counters.reserve([], [slot("s", "a", 2)]) == ReserveResult(True, values=(1,))
    assert await counters.reserve([], [slot("s", "b", 2)]) == ReserveResult(True, values=(2,))

    full = await counters.reserve([charge("x", 1, None)], [slot("s", "c", 2)])
    assert full == ReserveResult(admitted=False, refused_at=1, values=(0, 2))
    assert await counters.read(["x"]) == (0,)

    await counters.adjust([], [("s", "a"), ("s", "unknown"), ("nowhere", "a")])
    assert await counters.reserve([], [slot("s", "c", 2)]) == ReserveResult(True, values=(2,))


async def test_an_expired_lease_frees_its_slot(counters: Counters) -> None:
    assert (await counters.reserve([], [slot("s", "long", 2, ttl=60)])).admitted
    assert (await counters.reserve([], [slot("s", "crashed", 2, ttl=1)])).admitted
    assert not (await counters.reserve([], [slot("s", "waiting", 2, ttl=1)])).admitted

    await asyncio.sleep(EXPIRY_WAIT)

    # Only the short lease has lapsed: the long one still holds its place.
    assert await counters.reserve([], [slot("s", "waiting", 2)]) == ReserveResult(True, values=(2,))
    assert not (await counters.reserve([], [slot("s", "third", 2)])).admitted


async def test_counters_expire_ttl_after_creation_and_stay_ended(counters: Counters) -> None:
    await counters.reserve([charge("window", 5, 10, ttl=1), charge("forever", 5, 10, ttl=None)])
    await counters.seed([("seeded", 7, 1)])
    await asyncio.sleep(EXPIRY_WAIT / 2)
    # Charging again does not push the end of the window back.
    assert (await counters.reserve([charge("window", 5, 10, ttl=1)])).values == (10,)
    assert await counters.read(["window", "seeded"]) == (10, 7)

    await asyncio.sleep(EXPIRY_WAIT / 2)
    await counters.adjust([("window", -3), ("seeded", 2)])

    assert await counters.read(["window", "seeded", "forever"]) == (0, 0, 5)
    assert (await counters.reserve([charge("window", 10, 10, ttl=1)])).values == (10,)


async def test_adjust_moves_existing_counters_and_creates_none(counters: Counters) -> None:
    await counters.reserve([charge("a", 5, None), charge("b", 5, None)])

    await counters.adjust([("a", 4), ("b", -2), ("missing", 9)])

    assert await counters.read(["a", "b", "missing"]) == (9, 3, 0)
    assert (await counters.reserve([charge("missing", 1, None)])).values == (1,)


async def test_a_negative_delta_gives_budget_back(counters: Counters) -> None:
    assert (await counters.reserve([charge("budget", 80, 100)])).admitted
    assert not (await counters.reserve([charge("budget", 50, 100)])).admitted

    await counters.adjust([("budget", -60)])

    assert await counters.reserve([charge("budget", 50, 100)]) == ReserveResult(True, values=(70,))


async def test_seed_sets_only_absent_counters(counters: Counters) -> None:
    await counters.reserve([charge("present", 4, None)])

    await counters.seed([("present", 100, 60), ("absent", 100, None), ("absent_ttl", 3, 60)])
    await counters.seed([("absent", 1, None)])

    assert await counters.read(["present", "absent", "absent_ttl"]) == (4, 100, 3)
    assert (await counters.reserve([charge("absent", 1, 100)])).refused_at == 0


async def test_a_raised_revocation_flag_refuses_and_charges_nothing(counters: Counters) -> None:
    await counters.set_flag("revoked:key1", 60)

    result = await counters.reserve(
        [charge("a", 1, None)], [slot("s", "lease", 1)], revocation_flag="revoked:key1"
    )
    other = await counters.reserve([charge("b", 1, None)], revocation_flag="revoked:key2")

    assert result.revoked
    assert not result.admitted
    assert await counters.read(["a"]) == (0,)
    assert other == ReserveResult(admitted=True, values=(1,))
    assert (await counters.reserve([], [slot("s", "other", 1)])).admitted


async def test_read_gives_zero_for_missing_counters(counters: Counters) -> None:
    await counters.reserve([charge("there", 2, None)])

    assert await counters.read(["nothing", "there", "nor-this"]) == (0, 2, 0)
    assert await counters.read([]) == ()


async def test_ping_answers(counters: Counters) -> None:
    assert await counters.ping() is True


async def test_a_flag_reads_as_one_until_cleared(counters: Counters) -> None:
    await counters.set_flag("drain:gpu-1", 60)
    assert await counters.read(["drain:gpu-1", "drain:gpu-2"]) == (1, 0)

    await counters.clear_flag("drain:gpu-1")
    await counters.clear_flag("drain:never-raised")

    assert await counters.read(["drain:gpu-1"]) == (0,)


async def test_a_missing_seeded_marker_refuses_in_redis_and_charges_nothing() -> None:
    """Redis can be wiped apart from the gateways (restarted without persistence): without the
    marker that restoring the stored spend leaves, nothing is admitted. In-process counters cannot be
    wiped while they live and ignore the marker."""
    client = await _connect_redis()
    prefix = f"llmaas-test:{uuid.uuid4().hex}:"
    counters = RedisCounters(client, prefix=prefix)
    try:
        refused = await counters.reserve(
            [charge("a", 1, 10)],
            [slot("s", "lease", 1)],
            revocation_flag="revoked:key1",
            seeded_marker="seeded",
        )
        assert refused.unseeded and not refused.admitted
        assert await counters.read(["a"]) == (0,)
        await counters.seed([("seeded", 1, None)])
        admitted = await counters.reserve(
            [charge("a", 1, 10)], revocation_flag="revoked:key1", seeded_marker="seeded"
        )
        assert admitted.admitted and admitted.values == (1,)
        await counters.set_flag("revoked:key1", 60)
        revoked = await counters.reserve(
            [charge("a", 1, 10)], revocation_flag="revoked:key1", seeded_marker="seeded"
        )
        assert revoked.revoked
    finally:
        await _delete_keys(client, prefix)
        await counters.close()
    memory = MemoryCounters()
    assert (await memory.reserve([charge("a", 1, 10)], seeded_marker="seeded")).admitted
