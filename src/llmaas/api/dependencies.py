"""FastAPI dependencies: the services container and stage 1 of the pipeline (authentication).

One dependency per request on the hot path: FastAPI's dependency machinery costs CPU per dependency,
so authentication hands the route everything it needs at once. The bearer scheme is declared in the
OpenAPI document by ``api/openapi.py``, not by a per-request ``HTTPBearer`` dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from llmaas.domain.audit import Actor
from llmaas.services.completions import RequestContext
from llmaas.services.container import Services


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: who calls, and the services that will serve it."""

    ctx: RequestContext
    services: Services
    source: str = ""
    """The client's address, for the audit trail."""

    @property
    def actor(self) -> Actor:
        return Actor(f"key:{self.ctx.principal.key_id}", self.source)


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a sync dependency in a thread pool, on every request.
    return services_of(request)


async def authenticated(request: Request) -> Caller:
    services = services_of(request)
    principal = await services.authenticator.authenticate(request.headers.get("authorization"))
    return Caller(
        RequestContext(principal=principal, request_id=request.state.request_id),
        services,
        request.client.host if request.client else "",
    )


Authenticated = Annotated[Caller, Depends(authenticated)]
ServicesDep = Annotated[Services, Depends(get_services)]
