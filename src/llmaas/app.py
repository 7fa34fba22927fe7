"""The composition root: builds every object once and wires the application's lifespan.

``build_core`` is what the CLI's offline commands need (database, keys); ``create_app`` adds the engines
and the HTTP edge. Nothing else in the code base constructs adapters.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from llmaas.adapters.backends.registry import BackendRegistry, EngineContext, default_registry
from llmaas.adapters.clock import SystemClock
from llmaas.adapters.model_config import load_models
from llmaas.adapters.server_secret import load_or_create
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.adapters.usage_log import LoggingUsageRecorder
from llmaas.api.factory import build_http_app
from llmaas.domain.api_keys import KeyHasher
from llmaas.domain.models import ServedModel
from llmaas.domain.secrets import Secret
from llmaas.ports.backends import InferenceBackend
from llmaas.services.api_keys import ApiKeyService
from llmaas.services.authentication import Authenticator
from llmaas.services.catalog import CatalogService
from llmaas.services.completions import CompletionsService
from llmaas.services.container import Services
from llmaas.services.embeddings import EmbeddingsService
from llmaas.services.health import Readiness
from llmaas.services.routing import Router
from llmaas.settings import Settings

_log = logging.getLogger("llmaas")


@dataclass(frozen=True, slots=True)
class Core:
    settings: Settings
    engine: AsyncEngine
    unit_of_work: SqlUnitOfWorkFactory
    clock: SystemClock
    hasher: KeyHasher


def build_core(settings: Settings) -> Core:
    if settings.server_secret is not None:
        secret = Secret(settings.server_secret.get_secret_value())
    else:
        secret = load_or_create(settings.secret_file)
    engine = create_engine(settings.effective_database_url)
    return Core(
        settings=settings,
        engine=engine,
        unit_of_work=SqlUnitOfWorkFactory(engine),
        clock=SystemClock(),
        hasher=KeyHasher(secret),
    )


def build_backends(
    settings: Settings, models: Sequence[ServedModel], registry: BackendRegistry | None = None
) -> dict[str, InferenceBackend]:
    registry = registry or default_registry()
    return {
        spec.name: registry.build(
            spec,
            EngineContext(
                cache_dir=settings.model_cache_dir,
                threads=settings.engine_threads,
                context_length=model.context_length,
            ),
        )
        for model in models
        for spec in model.deployments
    }


def create_app(
    settings: Settings,
    *,
    models: Sequence[ServedModel] | None = None,
    backends: dict[str, InferenceBackend] | None = None,
) -> FastAPI:
    core = build_core(settings)
    models = list(models) if models is not None else load_models(settings.models_config)
    backends = backends if backends is not None else build_backends(settings, models)
    router = Router(models, backends)
    recorder = LoggingUsageRecorder()
    authenticator = Authenticator(
        core.unit_of_work, core.hasher, core.clock, recheck_seconds=settings.key_recheck_seconds
    )

    async def database_ready() -> bool:
        async with core.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    probes = {"database": database_ready}
    probes.update({f"deployment:{name}": backend.is_healthy for name, backend in backends.items()})
    services = Services(
        authenticator=authenticator,
        completions=CompletionsService(router, recorder, core.clock),
        embeddings=EmbeddingsService(router, recorder, core.clock),
        catalog=CatalogService(router),
        api_keys=ApiKeyService(core.unit_of_work, core.hasher, core.clock, authenticator),
        readiness=Readiness(probes),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for name, backend in backends.items():
            started = core.clock.monotonic()
            await backend.start()
            _log.info(
                "deployment started",
                extra={"deployment": name, "seconds": round(core.clock.monotonic() - started, 2)},
            )
        # Everything built so far lives as long as the process: move it out of the collector's
        # sight, so full collections stay short (they stalled requests for tens of ms at p99).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await asyncio.gather(*(b.close() for b in backends.values()), return_exceptions=True)
            await core.engine.dispose()

    app = build_http_app(lifespan, max_body_bytes=settings.max_body_bytes)
    app.state.services = services
    return app
