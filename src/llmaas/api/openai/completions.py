"""``POST /v1/completions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.responses import Response

from llmaas.api.dependencies import Authenticated
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
    caller: Authenticated,
) -> Response:
    if request.stream:
        chunks = await caller.services.completions.complete_stream(caller.ctx, request)
        return sse_response(chunks, caller.ctx.request_id)
    return json_response(await caller.services.completions.complete(caller.ctx, request))
