"""The real application on a migrated SQLite database, driven in-process through its ASGI interface.

``create_app`` builds everything the server builds (authenticator, admission with memory counters,
usage writer, the HTTP edge); only the engines are left out (no models). Each test starts the app's
lifespan when it is ready, so data written before the start (usage) is what a restart would see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from llmaas.adapters.sql import schema
from llmaas.app import Core, build_core, create_app
from llmaas.domain.catalog import Catalog
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(
        data_dir=tmp_path,
        server_secret=SecretStr("integration-test-secret"),
        # Re-read keys on every request, so a change made through the API shows at once.
        key_recheck_seconds=0.001,
        usage_flush_seconds=0.05,
    )
    schema.upgrade(settings.effective_database_url)  # sync: runs before the test's event loop
    return settings


@asynccontextmanager
async def core_of(settings: Settings) -> AsyncIterator[Core]:
    """The services without the HTTP edge, as the CLI uses them (to seed a test's data)."""
    core = build_core(settings)
    try:
        yield core
    finally:
        await core.close()


@pytest.fixture
async def admin_key(settings: Settings) -> str:
    async with core_of(settings) as core:
        issued = await core.api_keys.create("admin", is_admin=True)
    return issued.key.reveal()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings, catalog=Catalog(models=(), reviewed_on=date(2026, 1, 1)), backends={}
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def event(
    key_id: str,
    organization_id: str,
    model: str,
    at: datetime,
    *,
    prompt: int,
    completion: int,
    reasoning: int = 0,
    cost_micros: int,
    failed: bool = False,
) -> UsageEvent:
    return UsageEvent(
        request_id=f"req-{key_id}-{model}-{at.isoformat()}-{prompt}",
        key_id=key_id,
        model=model,
        deployment=f"{model}@test",
        endpoint="chat.completions",
        usage=TokenUsage(prompt, completion, reasoning),
        latency_ms=12.5,
        outcome=Outcome.FAILED if failed else Outcome.OK,
        streamed=False,
        organization_id=organization_id,
        cost_micros=cost_micros,
        occurred_at=at,
    )


async def store_usage(settings: Settings, events: Sequence[UsageEvent]) -> None:
    async with core_of(settings) as core, core.unit_of_work() as uow:
        await uow.usage.add_batch(events)
        await uow.commit()
