"""Rolling upgrades: where a database stands against this code, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from llmaas.adapters.sql import schema
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.schema import SchemaMatch
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.domain.api_keys import ApiKeyRecord, KeyHasher, generate_key
from llmaas.domain.secrets import Secret
from tests.support.future_migrations import CONTRACT, EXPAND, apply, future_migrations


def test_an_empty_or_older_database_is_behind(database_url: str) -> None:
    assert schema.state(database_url).match is SchemaMatch.BEHIND
    schema.upgrade(database_url, "0004")
    behind = schema.state(database_url)
    assert behind.match is SchemaMatch.BEHIND
    assert not behind.servable
    assert "run 'llmaas migrate'" in behind.describe()
    schema.upgrade(database_url)
    assert schema.state(database_url).match is SchemaMatch.CURRENT


def test_an_expand_migration_of_a_newer_version_leaves_it_servable(
    database_url: str, tmp_path: Path
) -> None:
    schema.upgrade(database_url)
    apply(future_migrations(tmp_path), database_url, EXPAND)
    state = schema.state(database_url)
    assert state.match is SchemaMatch.AHEAD_COMPATIBLE
    assert state.servable
    assert (state.database, state.oldest_compatible) == (EXPAND, schema.head_revision())
    # and this code really works on it: a key written and read back through the repositories
    assert asyncio.run(_write_and_read_a_key(database_url))


def test_a_contract_migration_of_a_newer_version_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    schema.upgrade(database_url)
    apply(future_migrations(tmp_path), database_url, CONTRACT)
    state = schema.state(database_url)
    assert state.match is SchemaMatch.AHEAD_INCOMPATIBLE
    assert not state.servable
    assert "needs code at revision 9002 or later" in state.describe()


async def _write_and_read_a_key(url: str) -> bool:
    engine = create_engine(url)
    try:
        key_id, secret = generate_key()
        record = ApiKeyRecord(
            id=key_id,
            name="rolling",
            key_hash=KeyHasher(Secret("s" * 48)).hash(secret),
            created_at=datetime(2026, 11, 26, tzinfo=UTC),
        )
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.api_keys.add(record)
            await uow.commit()
        async with SqlUnitOfWorkFactory(engine)() as uow:
            return await uow.api_keys.get(record.id) == record
    finally:
        await engine.dispose()
