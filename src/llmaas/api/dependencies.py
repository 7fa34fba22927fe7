"""FastAPI dependencies: the services container and stage 1 of the pipeline (authentication)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from llmaas.services.completions import RequestContext
from llmaas.services.container import Services

# Declares the scheme in the OpenAPI document; the check itself is the Authenticator's.
_bearer = HTTPBearer(auto_error=False, description="An llmaas API key: `sk-llmaas-...`")


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def authenticated(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> RequestContext:
    services = get_services(request)
    principal = await services.authenticator.authenticate(request.headers.get("authorization"))
    return RequestContext(principal=principal, request_id=request.state.request_id)


Authenticated = Annotated[RequestContext, Depends(authenticated)]
ServicesDep = Annotated[Services, Depends(get_services)]
