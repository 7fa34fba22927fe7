"""``POST /v1/chat/completions``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from llmaas.api.body import json_body, parse_request
from llmaas.api.dependencies import Authenticated
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.openai.examples import CHAT
from llmaas.api.response_headers import response_headers
from llmaas.api.responses import json_response, sse_response
from llmaas.openai_schema.chat import ChatCompletion, ChatCompletionRequest

router = APIRouter(tags=["Chat"])


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletion,
            "description": "A completion, or with `stream: true` server-sent "
            "`chat.completion.chunk` events ending with `data: [DONE]`",
            "content": {
                "text/event-stream": {
                    "schema": {"$ref": "#/components/schemas/ChatCompletionChunk"}
                }
            },
        },
        **ERRORS,
    },
    openapi_extra=json_body(ChatCompletionRequest, CHAT),
    summary="Create a chat completion",
)
async def create_chat_completion(http: Request, caller: Authenticated) -> Response:
    request = await parse_request(http, ChatCompletionRequest, caller.ctx)
    if request.stream:
        chunks = await caller.services.completions.chat_stream(caller.ctx, request)
        return sse_response(chunks, caller.ctx.request_id, response_headers(caller.ctx))
    response = await caller.services.completions.chat(caller.ctx, request)
    return json_response(response, response_headers(caller.ctx))
