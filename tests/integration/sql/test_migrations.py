"""Alembic migrations run up and down on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.tables import metadata


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
    assert "api_keys" in _tables(database_url)


def test_upgrade_is_idempotent(database_url: str) -> None:
    schema.upgrade(database_url)
    schema.upgrade(database_url)
    assert asyncio.run(schema.current_revision(database_url)) == schema.head_revision()
