"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from llmaas.api.dependencies import Authenticated, Caller
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.rate_limits import rate_limit_headers
from llmaas.api.responses import json_response
from llmaas.openai_schema.models import Model, ModelList

router = APIRouter(tags=["Models"])


@router.get(
    "/models",
    response_model=None,
    responses={200: {"model": ModelList}, **ERRORS},
    summary="List the models this key may use",
)
async def list_models(caller: Authenticated) -> Response:
    headers = await _headers(caller)
    return json_response(caller.services.catalog.list(caller.ctx.principal), headers)


@router.get(
    "/models/{model:path}",
    response_model=None,
    responses={200: {"model": Model}, **ERRORS},
    summary="Describe one model",
)
async def retrieve_model(model: str, caller: Authenticated) -> Response:
    headers = await _headers(caller)
    return json_response(caller.services.catalog.get(caller.ctx.principal, model), headers)


async def _headers(caller: Caller) -> dict[str, str]:
    """Listing models charges nothing, but reports the caller's windows like every /v1 call."""
    return rate_limit_headers(await caller.services.admission.status(caller.ctx.principal))
