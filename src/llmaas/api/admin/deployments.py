"""``/admin/v1/deployments``: the fleet's live state, and draining a deployment for maintenance."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import ConfigDict, Field
from starlette.responses import Response

from llmaas.api.admin.auth import AdminCaller, PlatformReader
from llmaas.api.admin.docs import SECURITY, answers, reply
from llmaas.api.admin.values import ResponseModel
from llmaas.domain.audit import AuditAction
from llmaas.services.fleet_admin import DeploymentView

router = APIRouter(prefix="/deployments")

DEPLOYMENT_EXAMPLE: dict[str, Any] = {
    "object": "deployment",
    "name": "vllm-gpu-1",
    "model": "gpt-oss:120b",
    "engine": "vllm",
    "machine": "gpu-1",
    "weight": 3,
    "max_concurrency": 64,
    "location": {
        "country": "FR",
        "site": "paris-2",
        "operator": "example-cloud",
        "certifications": ["secnumcloud"],
    },
    "healthy": True,
    "draining": False,
    "breaker": "closed",
    "outstanding": 5,
    "served": 1234,
    "probe": {
        "checked_at": 1767225600.0,
        "ok": True,
        "latency_ms": 310.2,
        "time_to_first_token_ms": 85.4,
        "tokens_per_second": 92.1,
    },
}


class LocationOut(ResponseModel):
    country: str | None
    site: str | None
    operator: str | None
    certifications: list[str]


class ProbeOut(ResponseModel):
    checked_at: float
    ok: bool
    latency_ms: float | None
    time_to_first_token_ms: float | None
    tokens_per_second: float | None


class DeploymentOut(ResponseModel):
    """A deployment as this instance sees it (outstanding and served count this instance only)."""

    model_config = ConfigDict(json_schema_extra={"examples": [DEPLOYMENT_EXAMPLE]})

    object: Literal["deployment"] = "deployment"
    name: str
    model: str
    engine: str
    machine: str
    weight: int
    max_concurrency: int | None
    location: LocationOut
    healthy: bool
    draining: bool
    breaker: str = Field(description="closed, open or half_open")
    outstanding: int
    served: int
    probe: ProbeOut | None

    @classmethod
    def of(cls, view: DeploymentView) -> DeploymentOut:
        fields = asdict(view)
        fields["location"]["certifications"] = sorted(view.location.certifications)
        return cls.model_validate(fields)


class DeploymentList(ResponseModel):
    """Every deployment of every model."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"object": "list", "data": [DEPLOYMENT_EXAMPLE]}]}
    )

    object: Literal["list"] = "list"
    data: list[DeploymentOut]


@router.get(
    "",
    response_model=None,
    responses=answers(DeploymentList),
    openapi_extra=SECURITY,
    summary="List deployments with their health, circuit and load",
)
async def list_deployments(caller: PlatformReader) -> Response:
    views = caller.services.fleet.list()
    return reply(DeploymentList(data=[DeploymentOut.of(v) for v in views]))


@router.post(
    "/{name}/drain",
    response_model=None,
    responses=answers(DeploymentOut),
    openapi_extra=SECURITY,
    summary="Drain a deployment: no new requests (every instance), in-flight ones finish",
)
async def drain(name: str, caller: AdminCaller) -> Response:
    view = await caller.services.fleet.set_draining(name, True)
    await caller.services.audit.record_alone(
        caller.actor, AuditAction.DEPLOYMENT_DRAINED, f"deployment:{view.name}"
    )
    return reply(DeploymentOut.of(view))


@router.post(
    "/{name}/undrain",
    response_model=None,
    responses=answers(DeploymentOut),
    openapi_extra=SECURITY,
    summary="Put a drained deployment back in rotation",
)
async def undrain(name: str, caller: AdminCaller) -> Response:
    view = await caller.services.fleet.set_draining(name, False)
    await caller.services.audit.record_alone(
        caller.actor, AuditAction.DEPLOYMENT_UNDRAINED, f"deployment:{view.name}"
    )
    return reply(DeploymentOut.of(view))
