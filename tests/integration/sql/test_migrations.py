"""Alembic migrations run up and down on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.tables import metadata
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.api_keys import ApiKeyRecord
from llmaas.domain.limits import Limits
from llmaas.domain.locations import DataPolicy
from llmaas.domain.tenants import (
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_TIER_ID,
    DEFAULT_TIERS,
    Organization,
    Tier,
)
from llmaas.ports.repositories import UnitOfWork

T = TypeVar("T")

API_KEY_COLUMNS_0001 = (
    "id",
    "name",
    "key_hash",
    "is_admin",
    "allowed_models",
    "created_at",
    "revoked_at",
    "expires_at",
)


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def names(sync: Connection) -> set[str]:
                    return set(inspect(sync).get_table_names())

                return await connection.run_sync(names)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _columns(url: str, table: str) -> dict[str, bool]:
    async def read() -> dict[str, bool]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def columns(sync: Connection) -> dict[str, bool]:
                    return {
                        c["name"]: bool(c["nullable"]) for c in inspect(sync).get_columns(table)
                    }

                return await connection.run_sync(columns)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_creates_the_schema_the_code_declares(database_url: str) -> None:
    assert asyncio.run(schema.current_revision(database_url)) is None
    schema.upgrade(database_url)
    assert asyncio.run(schema.current_revision(database_url)) == schema.head_revision()
    assert _tables(database_url) >= set(metadata.tables)
    for name, table in metadata.tables.items():
        declared = {c.name: c.nullable for c in table.columns}
        assert _columns(database_url, name) == declared


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    schema.upgrade(database_url)
    schema.downgrade(database_url, "base")
    assert _tables(database_url) - {"alembic_version"} == set()
    schema.upgrade(database_url)
    assert _tables(database_url) == set(metadata.tables) | {"alembic_version"}
    assert _schema_drift(database_url) == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    schema.upgrade(database_url)
    schema.upgrade(database_url)
    assert asyncio.run(schema.current_revision(database_url)) == schema.head_revision()


def _schema_drift(url: str) -> list[Any]:
    async def read() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def diff(sync: Connection) -> list[Any]:
                    context = MigrationContext.configure(sync, opts={"compare_type": True})
                    return list(compare_metadata(context, metadata))

                return await connection.run_sync(diff)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_migrations_build_exactly_the_declared_tables(database_url: str) -> None:
    """Types, indexes, foreign keys and constraints too: ``tables.py`` and the migrations agree."""
    schema.upgrade(database_url)
    assert _schema_drift(database_url) == []


async def _with_unit_of_work(url: str, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    engine = create_engine(url)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            return await work(uow)
    finally:
        await engine.dispose()


def test_the_seeded_tiers_are_the_default_tiers(database_url: str) -> None:
    """The migration hard-codes its seed rows; they must still match ``DEFAULT_TIERS``, and
    seed again cleanly after a downgrade."""
    schema.upgrade(database_url)
    schema.downgrade(database_url, "base")
    schema.upgrade(database_url)

    async def read(uow: UnitOfWork) -> tuple[list[Tier], Organization | None]:
        return await uow.tiers.list(), await uow.organizations.get(DEFAULT_ORGANIZATION_ID)

    tiers, default = asyncio.run(_with_unit_of_work(database_url, read))
    assert tiers == sorted(DEFAULT_TIERS, key=lambda tier: tier.id)
    assert default is not None
    assert (default.name, default.tier_id) == ("Default organization", DEFAULT_TIER_ID)
    assert (default.credit_granted_micros, default.data_policy) == (0, DataPolicy())


def test_existing_keys_join_the_default_organization_and_survive_a_downgrade(
    database_url: str,
) -> None:
    schema.upgrade(database_url, "0001")
    created = datetime(2026, 11, 1, tzinfo=UTC)
    legacy = sa.table(
        "api_keys",
        *(sa.column(name) for name in ("id", "name", "key_hash", "is_admin")),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    row = {"id": "aaaaaaaaaaaa", "name": "old", "key_hash": "h" * 64, "is_admin": False}

    async def insert_legacy() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(legacy.insert().values(created_at=created, **row))
        finally:
            await engine.dispose()

    asyncio.run(insert_legacy())
    schema.upgrade(database_url)

    async def read(uow: UnitOfWork) -> ApiKeyRecord | None:
        return await uow.api_keys.get("aaaaaaaaaaaa")

    migrated = asyncio.run(_with_unit_of_work(database_url, read))
    assert migrated is not None
    assert (migrated.organization_id, migrated.limits, migrated.created_at) == (
        DEFAULT_ORGANIZATION_ID,
        Limits(),
        created,
    )
    schema.downgrade(database_url, "0001")
    assert set(_columns(database_url, "api_keys")) == set(API_KEY_COLUMNS_0001)
    assert _tables(database_url) == {"alembic_version", "api_keys"}
    schema.upgrade(database_url)
    assert asyncio.run(_with_unit_of_work(database_url, read)) == migrated
