"""A unit of work is one database transaction; only :meth:`commit` makes its writes durable."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from llmaas.adapters.sql.api_keys import SqlApiKeyRepository
from llmaas.adapters.sql.audit import SqlAuditRepository
from llmaas.adapters.sql.tenants import SqlOrganizationRepository, SqlTierRepository
from llmaas.adapters.sql.usage import SqlUsageRepository


class SqlUnitOfWork:
    api_keys: SqlApiKeyRepository
    tiers: SqlTierRepository
    organizations: SqlOrganizationRepository
    usage: SqlUsageRepository
    audit: SqlAuditRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        self._connection = await self._engine.connect()
        await self._connection.begin()
        # Every repository shares the one connection, hence the one transaction.
        self.api_keys = SqlApiKeyRepository(self._connection)
        self.tiers = SqlTierRepository(self._connection)
        self.organizations = SqlOrganizationRepository(self._connection)
        self.usage = SqlUsageRepository(self._connection)
        self.audit = SqlAuditRepository(self._connection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit() outside of 'async with'")
        await self._connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
