"""``POST /v1/completions``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from llmaas.api.body import json_body, parse_request
from llmaas.api.dependencies import Authenticated
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.openai.examples import COMPLETIONS
from llmaas.api.response_headers import response_headers
from llmaas.api.responses import json_response, sse_response
from llmaas.openai_schema.completions import Completion, CompletionRequest

router = APIRouter(tags=["Completions"])


@router.post(
    "/completions",
    response_model=None,
    responses={
        200: {
            "model": Completion,
            "description": "A completion, or with `stream: true` server-sent `text_completion` "
            "events ending with `data: [DONE]`",
            "content": {
                "text/event-stream": {"schema": {"$ref": "#/components/schemas/Completion"}}
            },
        },
        **ERRORS,
    },
    openapi_extra=json_body(CompletionRequest, COMPLETIONS),
    summary="Create a text completion",
)
async def create_completion(http: Request, caller: Authenticated) -> Response:
    request = await parse_request(http, CompletionRequest, caller.ctx)
    if request.stream:
        chunks = await caller.services.completions.complete_stream(caller.ctx, request)
        return sse_response(chunks, caller.ctx.request_id, response_headers(caller.ctx))
    response = await caller.services.completions.complete(caller.ctx, request)
    return json_response(response, response_headers(caller.ctx))
