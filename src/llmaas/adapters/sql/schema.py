"""Schema migrations (Alembic), driven from code so ``llmaas serve`` and ``llmaas migrate`` share them,
and the rule that lets several versions share one database during a rolling upgrade.

Migrations follow expand/contract. An *expand* migration only adds (tables, nullable columns,
indexes): the previous version of the code keeps working on the new schema, so version N+1's migration
runs while N serves, then N's instances are replaced one by one. A *contract* migration removes what
only N used, once no N instance is left. Each migration records, in ``schema_compatibility``, the
oldest code revision that may run on the schema it leaves; a server started on a database its code
does not know reads that row and either serves (expand) or refuses to start (contract), naming the
version it needs, instead of limping on a schema it cannot read.

These functions are synchronous and start their own event loop: call them before the server's loop
runs (the CLI does), never from inside it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.tables import schema_compatibility

_MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaMatch(StrEnum):
    CURRENT = "current"
    """The database is at this code's head."""
    BEHIND = "behind"
    """Migrations are pending (an empty database included): ``llmaas migrate``."""
    AHEAD_COMPATIBLE = "ahead_compatible"
    """A newer version migrated it (expand): this code may serve on it."""
    AHEAD_INCOMPATIBLE = "ahead_incompatible"
    """A newer version migrated it and removed what this code reads: only a newer version may."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    database: str | None
    code: str | None
    match: SchemaMatch
    oldest_compatible: str | None = None
    """For a database ahead of the code: the oldest code revision its schema accepts."""

    @property
    def servable(self) -> bool:
        return self.match in (SchemaMatch.CURRENT, SchemaMatch.AHEAD_COMPATIBLE)

    def describe(self) -> str:
        if self.match is SchemaMatch.CURRENT:
            return f"database schema is current ({self.code})"
        if self.match is SchemaMatch.BEHIND:
            return (
                f"database at revision {self.database}, code expects {self.code}: "
                "run 'llmaas migrate'"
            )
        if self.match is SchemaMatch.AHEAD_COMPATIBLE:
            return (
                f"database at revision {self.database}, newer than this code ({self.code}), "
                f"and compatible with it (from {self.oldest_compatible} on)"
            )
        return (
            f"database at revision {self.database}, newer than this code ({self.code}), needs "
            f"code at revision {self.oldest_compatible or self.database} or later: run a newer llmaas"
        )


def _config(url: str, migrations: Path = _MIGRATIONS) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(_config(url), revision)


def head_revision() -> str | None:
    return _scripts().get_current_head()


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config("sqlite://"))


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _oldest_compatible(url: str, revision: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            row = await connection.execute(
                select(schema_compatibility.c.oldest_compatible).where(
                    schema_compatibility.c.revision == revision
                )
            )
            return row.scalar_one_or_none()
    except SQLAlchemyError:
        return None  # a schema from elsewhere, without the table: nothing vouches for it
    finally:
        await engine.dispose()


def state(url: str) -> SchemaState:
    """Where the database stands against this code (an unreachable database raises)."""
    database = asyncio.run(current_revision(url))
    code = head_revision()
    if database == code:
        return SchemaState(database, code, SchemaMatch.CURRENT)
    known = known_revisions()
    if database is None or database in known:
        return SchemaState(database, code, SchemaMatch.BEHIND)
    oldest = asyncio.run(_oldest_compatible(url, database))
    match = SchemaMatch.AHEAD_COMPATIBLE if oldest in known else SchemaMatch.AHEAD_INCOMPATIBLE
    return SchemaState(database, code, match, oldest)
