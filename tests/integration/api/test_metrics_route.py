"""``GET /metrics`` serves what the attached renderer renders, and 404s in OpenAI's envelope without one."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from llmaas.api import metrics
from llmaas.api.errors import install_error_handlers
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.observability.metrics import PrometheusMetrics


def build(renderer: PrometheusMetrics | None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(metrics.router)
    if renderer is not None:
        app.state.metrics = renderer
    return app


async def get_metrics(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/metrics")


async def test_metrics_are_served_as_prometheus_text() -> None:
    renderer = PrometheusMetrics()
    renderer.observe(
        [
            UsageEvent(
                request_id="r",
                key_id="k",
                model="m1",
                deployment="d",
                endpoint="chat.completions",
                usage=TokenUsage(3, 2),
                latency_ms=12.0,
                outcome=Outcome.OK,
                streamed=False,
                organization_id="acme",
            )
        ]
    )
    response = await get_metrics(build(renderer))
    assert response.status_code == 200
    assert response.headers["content-type"] == renderer.render()[1]
    assert (
        'llmaas_requests_total{endpoint="chat.completions",model="m1",organization="acme",'
        'outcome="ok"} 1.0'
    ) in response.text


async def test_without_metrics_the_route_is_an_openai_style_404() -> None:
    response = await get_metrics(build(None))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "not_found"


def test_the_route_is_documented_under_operations() -> None:
    operation = build(None).openapi()["paths"]["/metrics"]["get"]
    assert operation["tags"] == ["Operations"]
    assert "text/plain" in operation["responses"]["200"]["content"]
