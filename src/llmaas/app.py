"""The composition root: builds every object once and wires the application's lifespan.

``build_core`` is what the CLI's offline commands need (database, keys); ``create_app`` adds the engines
and the HTTP edge. Nothing else in the code base constructs adapters.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from llmaas.adapters.backends.registry import (
    BackendRegistry,
    EngineContext,
    default_registry,
    runs_in_process,
)
from llmaas.adapters.clock import SystemClock
from llmaas.adapters.guardrails.layered import packaged_detector
from llmaas.adapters.image_fetcher import AiohttpImageFetcher
from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.adapters.model_config import ConfigError, load_served_catalog
from llmaas.adapters.server_secret import load_or_create
from llmaas.adapters.sql.engine import create_engine
from llmaas.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from llmaas.adapters.usage_log import LoggingUsageObserver
from llmaas.api.factory import build_http_app
from llmaas.app_console import console_sessions, identity_provider, origin_of
from llmaas.domain.api_keys import KeyHasher
from llmaas.domain.audit import AuditChain
from llmaas.domain.catalog import Catalog
from llmaas.domain.catalog_policy import retired_but_routed, validate
from llmaas.domain.locations import Location
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.secrets import Secret
from llmaas.observability.metrics import DeploymentSample, PrometheusMetrics
from llmaas.ports.backends import InferenceBackend, Reranker
from llmaas.ports.counters import Counters
from llmaas.ports.speech import SpeechRecognizer
from llmaas.ports.usage import UsageObserver
from llmaas.services.admission import Admission
from llmaas.services.api_keys import ApiKeyService
from llmaas.services.audit import AuditTrail
from llmaas.services.authentication import Authenticator
from llmaas.services.catalog import CatalogService
from llmaas.services.circuit_breaker import BreakerState
from llmaas.services.completions import CompletionsService
from llmaas.services.console_overview import ConsoleOverview
from llmaas.services.container import Services
from llmaas.services.counter_recovery import CounterRecovery
from llmaas.services.embeddings import EmbeddingsService
from llmaas.services.failover import Attempts
from llmaas.services.fleet_admin import FleetAdmin
from llmaas.services.guarding import Guarding, GuardSettings
from llmaas.services.health import Probe, Readiness
from llmaas.services.health_checks import HealthChecker
from llmaas.services.images import ImageInliner, ImageLimits
from llmaas.services.live_usage import LiveUsage
from llmaas.services.metering import Metering
from llmaas.services.rerank import RerankService
from llmaas.services.routing import Router, RouterOptions
from llmaas.services.status import StatusService
from llmaas.services.tenants import TenantService
from llmaas.services.transcriptions import TranscriptionsService
from llmaas.services.usage_reports import UsageReports
from llmaas.services.usage_writer import UsageWriter
from llmaas.settings import Settings

_log = logging.getLogger("llmaas")


@dataclass(frozen=True, slots=True)
class Core:
    """What every entry point needs: storage, shared counters, and the services built on them."""

    settings: Settings
    engine: AsyncEngine
    unit_of_work: SqlUnitOfWorkFactory
    clock: SystemClock
    hasher: KeyHasher
    counters: Counters
    admission: Admission
    authenticator: Authenticator
    api_keys: ApiKeyService
    tenants: TenantService
    usage: UsageReports
    audit: AuditTrail
    secret: Secret

    async def close(self) -> None:
        await self.counters.close()
        await self.engine.dispose()


def build_counters(settings: Settings) -> Counters:
    if settings.redis_url is None:
        return MemoryCounters()
    try:
        from llmaas.adapters.redis.counters import RedisCounters
    except ImportError as error:  # the optional extra is missing
        raise RuntimeError(
            "LLMAAS_REDIS_URL is set but the Redis client is not installed: "
            "pip install 'llmaas[redis]'"
        ) from error
    return RedisCounters.from_url(settings.redis_url)


def build_core(settings: Settings) -> Core:
    if settings.server_secret is not None:
        secret = Secret(settings.server_secret.get_secret_value())
    else:
        secret = load_or_create(settings.secret_file)
    engine = create_engine(settings.effective_database_url)
    unit_of_work = SqlUnitOfWorkFactory(engine)
    clock = SystemClock()
    hasher = KeyHasher(secret)
    counters = build_counters(settings)
    admission = Admission(counters, clock, lease_seconds=settings.concurrency_lease_seconds)
    authenticator = Authenticator(
        unit_of_work, hasher, clock, recheck_seconds=settings.key_recheck_seconds
    )
    audit = AuditTrail(unit_of_work, AuditChain(secret), clock)
    return Core(
        settings=settings,
        engine=engine,
        unit_of_work=unit_of_work,
        clock=clock,
        hasher=hasher,
        counters=counters,
        admission=admission,
        authenticator=authenticator,
        api_keys=ApiKeyService(unit_of_work, hasher, clock, authenticator, admission, audit),
        tenants=TenantService(unit_of_work, clock, audit),
        usage=UsageReports(unit_of_work, admission, clock),
        audit=audit,
        secret=secret,
    )


def build_backends(
    settings: Settings, models: Iterable[ServedModel], registry: BackendRegistry | None = None
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


def load_catalog_for(settings: Settings) -> Catalog:
    """The catalog joined with this installation's deployments; embedded engines run where the
    gateway runs, so they take its location unless the file gives one."""
    catalog = load_served_catalog(settings.models_config, settings.catalog)
    here = Location.of(
        settings.location_country,
        settings.location_site,
        settings.location_operator,
        settings.location_certifications,
    )

    def located(spec: DeploymentSpec) -> DeploymentSpec:
        if runs_in_process(spec.engine) and spec.location == Location():
            return replace(spec, location=here)
        return spec

    return catalog.with_models(
        [replace(m, deployments=tuple(located(d) for d in m.deployments)) for m in catalog]
    )


def refuse_invalid_catalog(catalog: Catalog) -> None:
    """A catalog that breaks the lifecycle policy is an operator error: refuse to start on it."""
    violations = validate(catalog)
    if violations:
        shown = "; ".join(str(v) for v in violations[:5])
        more = f" (and {len(violations) - 5} more)" if len(violations) > 5 else ""
        raise ConfigError(
            f"the catalog breaks the lifecycle policy: {shown}{more}; see: llmaas catalog validate"
        )


_ENGINE_PORTS: dict[Capability, type] = {
    Capability.RERANK: Reranker,
    Capability.AUDIO: SpeechRecognizer,
}
"""Capabilities that only engines implementing a port can serve (checked structurally)."""


def refuse_incapable_engines(catalog: Catalog, backends: Mapping[str, InferenceBackend]) -> None:
    """A rerank or speech model deployed on an engine that cannot rerank or hear would fail every
    call with a 400: refuse to start on it instead, naming the deployment and what it lacks."""
    for model in catalog.deployed():
        for capability, port in _ENGINE_PORTS.items():
            if capability not in model.capabilities:
                continue
            for spec in model.deployments:
                if not isinstance(backends[spec.name], port):
                    raise ConfigError(
                        f"model '{model.id}' has the capability '{capability}', but its "
                        f"deployment '{spec.name}' runs on the engine '{spec.engine}', which "
                        f"cannot serve it"
                    )


def create_app(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    backends: dict[str, InferenceBackend] | None = None,
    observers: Sequence[UsageObserver] = (),
) -> FastAPI:
    core = build_core(settings)
    catalog = catalog if catalog is not None else load_catalog_for(settings)
    backends = backends if backends is not None else build_backends(settings, catalog)
    refuse_incapable_engines(catalog, backends)
    router = Router(
        catalog,
        backends,
        core.clock,
        RouterOptions(
            breaker_failures=settings.breaker_failures,
            breaker_cooldown_seconds=settings.breaker_cooldown_seconds,
            max_attempts=settings.max_attempts,
        ),
    )
    attempts = Attempts(core.clock)
    checker = HealthChecker(
        router.deployments(),
        core.counters,
        core.clock,
        interval=settings.health_interval_seconds,
        probe_interval=settings.probe_interval_seconds,
        capabilities={m.id: m.capabilities for m in catalog.deployed()},
    )
    metrics = PrometheusMetrics(
        pending=lambda: writer.pending,
        dropped=lambda: writer.dropped,
        deployments=lambda: _deployment_samples(router, core.clock.monotonic()),
    )
    live = LiveUsage(core.clock)
    writer = UsageWriter(
        core.unit_of_work,
        observers=[LoggingUsageObserver(), *observers, metrics, live],
        batch_size=settings.usage_batch_size,
        interval=settings.usage_flush_seconds,
    )
    metering = Metering(core.admission, writer, core.clock)
    guarding = Guarding(
        packaged_detector(classifier=settings.guardrail_classifier),
        core.clock,
        GuardSettings(
            default_policy=settings.guardrail_policy,
            repeat_limit=settings.guardrail_repeat_limit,
            repeat_window_seconds=settings.guardrail_repeat_window_seconds,
        ),
        on_verdict=metrics.guard_verdict,
    )

    async def database_ready() -> bool:
        async with core.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    probes: dict[str, Probe] = {"database": database_ready, "counters": core.counters.ping}
    # A model is servable when one of its deployments answers: one machine of a fleet being down is
    # the router's business (failover); readiness needs one servable model (see services/health.py).
    models: dict[str, Probe] = {
        f"model:{model.id}": _any_healthy([backends[d.name] for d in model.deployments])
        for model in catalog.deployed()
    }
    recovery = CounterRecovery(
        core.unit_of_work,
        core.admission,
        core.clock,
        settle_seconds=2 * settings.usage_flush_seconds + 0.5,
    )
    identity = identity_provider(settings)
    catalog_service = CatalogService(router)
    services = Services(
        authenticator=core.authenticator,
        completions=CompletionsService(
            router, metering, attempts, image_inliner(settings), guarding
        ),
        embeddings=EmbeddingsService(router, metering, attempts),
        rerank=RerankService(router, metering, attempts),
        catalog=catalog_service,
        fleet=FleetAdmin(router, core.counters, core.clock),
        status=StatusService(router, core.clock),
        api_keys=core.api_keys,
        readiness=Readiness(probes, models=models),
        admission=core.admission,
        tenants=core.tenants,
        usage=core.usage,
        transcriptions=TranscriptionsService(router, metering, attempts),
        audit=core.audit,
        console=console_sessions(
            settings,
            core.secret,
            identity,
            core.authenticator,
            core.counters,
            core.audit,
            core.clock,
        ),
        console_overview=ConsoleOverview(
            core.tenants, core.admission, core.usage, live, catalog_service
        ),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # spend counters start from stored usage, so a restart never hands out a fresh budget
        await recovery.restore()
        recovery.start()
        writer.start()
        for name, backend in backends.items():
            started = core.clock.monotonic()
            await backend.start()
            _log.info(
                "deployment started",
                extra={"deployment": name, "seconds": round(core.clock.monotonic() - started, 2)},
            )
        for model in retired_but_routed(catalog, core.clock.now().date()):
            _log.warning("retired model still has deployments", extra={"model": model.id})
        await checker.check_once()
        checker.start()
        # Everything built so far lives as long as the process: move it out of the collector's
        # sight, so full collections stay short (they stalled requests for tens of ms at p99).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            # In-flight requests have finished (the server drains them first): settle, then write
            # every usage record still buffered, so a graceful stop loses none.
            await checker.close()
            await recovery.close()
            await core.admission.drain()
            await writer.close()
            await asyncio.gather(*(b.close() for b in backends.values()), return_exceptions=True)
            if identity is not None:
                await identity.close()
            await core.close()

    readiness = services.readiness
    app = build_http_app(
        lifespan,
        max_body_bytes=settings.max_body_bytes,
        max_audio_bytes=settings.max_audio_bytes,
        draining=lambda: readiness.draining,
    )
    app.state.services = services
    app.state.console_public_url = settings.public_url
    if settings.oidc_issuer:
        # The logout form's redirect leads to the identity provider: the page's CSP must allow it.
        app.state.console_form_origins = origin_of(settings.oidc_issuer)
    if settings.metrics_enabled:
        app.state.metrics = metrics
    return app


def _deployment_samples(router: Router, now: float) -> list[DeploymentSample]:
    return [
        DeploymentSample(
            deployment=d.name,
            model=d.model_id,
            up=d.healthy,
            draining=d.draining,
            circuit_open=d.breaker_state(now) is BreakerState.OPEN,
            outstanding=d.outstanding,
        )
        for d in router.deployments()
    ]


def image_inliner(settings: Settings) -> ImageInliner:
    """Image URLs are fetched only when the operator opts in (see ``adapters/image_fetcher.py``)."""
    fetcher = (
        AiohttpImageFetcher(timeout=settings.image_fetch_timeout_seconds)
        if settings.fetch_image_urls
        else None
    )
    limits = ImageLimits(settings.max_image_bytes, settings.max_images_per_request)
    return ImageInliner(limits, fetcher)


def _any_healthy(backends: Sequence[InferenceBackend]) -> Probe:
    async def probe() -> bool:
        results = await asyncio.gather(*(b.is_healthy() for b in backends), return_exceptions=True)
        return any(result is True for result in results)

    return probe
