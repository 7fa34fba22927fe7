"""``POST /v1/embeddings``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.responses import Response

from llmaas.api.dependencies import Authenticated
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.openai.examples import EMBEDDINGS
from llmaas.api.responses import json_response
from llmaas.openai_schema.embeddings import CreateEmbeddingResponse, EmbeddingRequest

router = APIRouter(tags=["Embeddings"])


@router.post(
    "/embeddings",
    response_model=None,
    responses={200: {"model": CreateEmbeddingResponse}, **ERRORS},
    summary="Create embeddings",
)
async def create_embeddings(
    request: Annotated[EmbeddingRequest, Body(openapi_examples=EMBEDDINGS)],
    caller: Authenticated,
) -> Response:
    return json_response(await caller.services.embeddings.embed(caller.ctx, request))
