"""``POST /v1/completions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.responses import Response

from llmaas.api.dependencies import Authenticated, ServicesDep
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.openai.examples import COMPLETIONS
from llmaas.api.responses import json_response, sse_response
from llmaas.openai_schema.completions import Completion, CompletionRequest

router = APIRouter(tags=["Completions"])


@router.post(
    "/completions",
    response_model=None,
    responses={200: {"model": Completion}, **ERRORS},
    summary="Create a text completion",
)
async def create_completion(
    request: Annotated[CompletionRequest, Body(openapi_examples=COMPLETIONS)],
    ctx: Authenticated,
    services: ServicesDep,
) -> Response:
    if request.stream:
        chunks = await services.completions.complete_stream(ctx, request)
        return sse_response(chunks, ctx.request_id)
    return json_response(await services.completions.complete(ctx, request))
