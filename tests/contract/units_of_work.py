"""The ``run`` fixture every repository contract suite shares: one scenario, every adapter.

Each scenario gets a fresh store: memory, a migrated SQLite file, or a migrated PostgreSQL database
(which fails the test, never skips it, when PostgreSQL is down). Import ``run`` into a test module to
parametrise its tests over the three.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from llmaas.adapters.memory.unit_of_work import MemoryStore, MemoryUnitOfWork
from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.ports.repositories import UnitOfWorkFactory

Scenario = Callable[[UnitOfWorkFactory], Coroutine[Any, Any, None]]
Runner = Callable[[Scenario], None]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def run(request: pytest.FixtureRequest) -> Runner:
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
