"""One suite, every ``ApiKeyRepository``: memory, SQLite and PostgreSQL must behave identically."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.ports.repositories import UnitOfWorkFactory

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(key_id: str, *, created: datetime = T0, **overrides: Any) -> ApiKeyRecord:
    fields: dict[str, Any] = {
        "id": key_id,
        "name": f"key {key_id}",
        "key_hash": f"hash-{key_id}".ljust(64, "0"),
        "created_at": created,
    }
    fields.update(overrides)
    return ApiKeyRecord(**fields)


Scenario = Callable[[UnitOfWorkFactory], Coroutine[Any, Any, None]]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    """Runs a scenario against a fresh repository of the requested kind."""
    if request.param == "memory":
        store = MemoryStore()

        def run_memory(scenario: Scenario) -> None:
            asyncio.run(scenario(lambda: MemoryUnitOfWork(store)))

        return run_memory
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    schema.upgrade(url)

    def run_sql(scenario: Scenario) -> None:
        async def main() -> None:
            engine = create_engine(url)
            try:
                await scenario(SqlUnitOfWorkFactory(engine))
            finally:
                await engine.dispose()

        asyncio.run(main())

    return run_sql


async def _add(uow_factory: UnitOfWorkFactory, *records: ApiKeyRecord) -> None:
    async with uow_factory() as uow:
        for item in records:
            await uow.api_keys.add(item)
        await uow.commit()


def test_add_then_get_round_trips_every_field(run: Callable[[Scenario], None]) -> None:
    full = record(
        "aaaaaaaaaaaa",
        is_admin=True,
        allowed_models=frozenset({"qwen2.5-coder:0.5b", "all-minilm:22m"}),
        expires_at=T0 + timedelta(days=30),
    )

    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, full, record("bbbbbbbbbbbb"))
        async with uow_factory() as uow:
            assert await uow.api_keys.get("aaaaaaaaaaaa") == full
            other = await uow.api_keys.get("bbbbbbbbbbbb")
            assert other is not None
            assert other.allowed_models is None
            assert other.is_admin is False
            assert await uow.api_keys.get("cccccccccccc") is None
            assert await uow.api_keys.count() == 2

    run(scenario)


def test_nothing_is_kept_without_commit(run: Callable[[Scenario], None]) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        async with uow_factory() as uow:
            await uow.api_keys.add(record("aaaaaaaaaaaa"))
        async with uow_factory() as uow:
            assert await uow.api_keys.get("aaaaaaaaaaaa") is None
            assert await uow.api_keys.count() == 0

    run(scenario)


def test_list_orders_by_creation_and_hides_revoked(run: Callable[[Scenario], None]) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(
            uow_factory,
            record("bbbbbbbbbbbb", created=T0 + timedelta(minutes=1)),
            record("aaaaaaaaaaaa", created=T0),
            record("cccccccccccc", created=T0 + timedelta(minutes=2)),
        )
        async with uow_factory() as uow:
            assert await uow.api_keys.revoke("bbbbbbbbbbbb", T0 + timedelta(hours=1))
            await uow.commit()
        async with uow_factory() as uow:
            active = [r.id for r in await uow.api_keys.list()]
            everything = [r.id for r in await uow.api_keys.list(include_revoked=True)]
            revoked = await uow.api_keys.get("bbbbbbbbbbbb")
        assert active == ["aaaaaaaaaaaa", "cccccccccccc"]
        assert everything == ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]
        assert revoked is not None
        assert revoked.revoked_at == T0 + timedelta(hours=1)

    run(scenario)


def test_revoke_is_once_only_and_unknown_ids_are_refused(run: Callable[[Scenario], None]) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, record("aaaaaaaaaaaa"))
        async with uow_factory() as uow:
            assert await uow.api_keys.revoke("aaaaaaaaaaaa", T0) is True
            assert await uow.api_keys.revoke("aaaaaaaaaaaa", T0) is False
            assert await uow.api_keys.revoke("zzzzzzzzzzzz", T0) is False
            await uow.commit()

    run(scenario)


def test_duplicate_ids_are_rejected(run: Callable[[Scenario], None]) -> None:
    async def scenario(uow_factory: UnitOfWorkFactory) -> None:
        await _add(uow_factory, record("aaaaaaaaaaaa"))
        with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
            await _add(uow_factory, record("aaaaaaaaaaaa", key_hash="f" * 64))
        async with uow_factory() as uow:
            assert await uow.api_keys.count() == 1

    run(scenario)
