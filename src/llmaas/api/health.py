"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database and engines up)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from llmaas.api.dependencies import ServicesDep

router = APIRouter(tags=["Health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/readyz", summary="Readiness")
async def readyz(services: ServicesDep) -> Response:
    ready, checks = await services.readiness.check()
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return Response(
        orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json"
    )
