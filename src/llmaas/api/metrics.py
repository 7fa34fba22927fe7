"""``/metrics``: the Prometheus exposition, rendered by whatever the composition root attached.

The route knows only the ``MetricsRenderer`` port, never a metrics library. A server built without
metrics answers 404 in OpenAI's error envelope, like any other unknown resource.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from llmaas.domain.errors import NotFound
from llmaas.ports.metrics import MetricsRenderer

router = APIRouter(tags=["Operations"])

_EXPOSITION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    include_in_schema=True,
    response_class=PlainTextResponse,
    responses=_EXPOSITION,
)
async def metrics(request: Request) -> Response:
    renderer = cast(MetricsRenderer | None, getattr(request.app.state, "metrics", None))
    if renderer is None:
        raise NotFound("Metrics are not enabled on this server.")
    body, content_type = renderer.render()
    return Response(body, media_type=content_type)
