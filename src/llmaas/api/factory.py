"""Builds the FastAPI application around a ready ``Services`` container."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from llmaas import __version__
from llmaas.api import admin, console, health, metrics, public
from llmaas.api.errors import install_error_handlers
from llmaas.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from llmaas.api.openai import audio, chat, completions, embeddings, me, models, rerank
from llmaas.api.openapi import openapi_with_bearer

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """An OpenAI-compatible API for open models, served from sovereign infrastructure.

Point any OpenAI SDK at `http://<host>:8000/v1` and use an llmaas API key. Errors follow OpenAI's
envelope: `{"error": {"message", "type", "param", "code"}}`."""


def build_http_app(
    lifespan: Lifespan,
    *,
    max_body_bytes: int,
    max_audio_bytes: int = 25 * 1024 * 1024,
    access_log: bool = True,
    draining: Callable[[], bool] = lambda: False,
) -> FastAPI:
    app = FastAPI(
        title="llmaas",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        # FastAPI's built-in OpenTelemetry hooks read the environment on every request (~10% of
        # the gateway's CPU per request); tracing will be wired explicitly by observability/.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.openapi = openapi_with_bearer(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    for module in (models, chat, completions, embeddings, audio, me):
        app.include_router(module.router, prefix="/v1")
    app.include_router(rerank.router)  # Cohere's /v1/rerank and /v2/rerank, at their own paths
    app.include_router(admin.router)
    app.include_router(health.router)
    app.include_router(public.router)
    app.include_router(metrics.router)
    console.install(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=max_body_bytes,
        larger={audio.PATH_PREFIX: audio.body_limit(max_audio_bytes)},
    )
    app.state.max_audio_bytes = max_audio_bytes
    app.add_middleware(RequestContextMiddleware, access_log=access_log, draining=draining)
    return app
