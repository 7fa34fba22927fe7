"""``POST /v1/embeddings``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from llmaas.api.body import json_body, parse_request
from llmaas.api.dependencies import Authenticated
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.openai.examples import EMBEDDINGS
from llmaas.api.response_headers import response_headers
from llmaas.api.responses import json_response
from llmaas.openai_schema.embeddings import CreateEmbeddingResponse, EmbeddingRequest

router = APIRouter(tags=["Embeddings"])


@router.post(
    "/embeddings",
    response_model=None,
    responses={200: {"model": CreateEmbeddingResponse}, **ERRORS},
    openapi_extra=json_body(EmbeddingRequest, EMBEDDINGS),
    summary="Create embeddings",
)
async def create_embeddings(http: Request, caller: Authenticated) -> Response:
    request = await parse_request(http, EmbeddingRequest, caller.ctx)
    response = await caller.services.embeddings.embed(caller.ctx, request)
    return json_response(response, response_headers(caller.ctx))
