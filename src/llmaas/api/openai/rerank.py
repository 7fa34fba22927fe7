"""``POST /v1/rerank`` and ``POST /v2/rerank``: Cohere's two rerank versions, at Cohere's paths.

Cohere's SDKs append ``v1/...`` or ``v2/...`` to their base URL, so these routes live at the root
(``base_url=http://<host>:8000``) rather than under the OpenAI ``/v1`` prefix, where the second one
would become ``/v1/v2/rerank``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from llmaas.api.body import json_body, parse_request
from llmaas.api.dependencies import Authenticated, Caller
from llmaas.api.openai.errors_doc import ERRORS
from llmaas.api.openai.examples import RERANK
from llmaas.api.response_headers import response_headers
from llmaas.api.responses import json_response
from llmaas.openai_schema.rerank import RerankRequest, RerankResponse
from llmaas.services.rerank import ApiVersionNumber

router = APIRouter(tags=["Rerank"])

_DESCRIPTION = (
    'Cohere-compatible: `query`, `documents` (strings or `{"text": ...}`), `top_n`, '
    "`return_documents`; results sorted by `relevance_score`, highest first. Billed per million "
    "tokens scored (`meta.billed_units.input_tokens`). Models with the `rerank` capability in "
    "`/v1/models` serve it; `all-minilm:22m` approximates it with a bi-encoder (cosine similarity)."
)


@router.post(
    "/v1/rerank",
    response_model=None,
    responses={200: {"model": RerankResponse}, **ERRORS},
    openapi_extra=json_body(RerankRequest, RERANK),
    summary="Rerank documents (Cohere v1)",
    description=_DESCRIPTION,
)
async def rerank_v1(http: Request, caller: Authenticated) -> Response:
    return await _rerank(http, caller, "1")


@router.post(
    "/v2/rerank",
    response_model=None,
    responses={200: {"model": RerankResponse}, **ERRORS},
    openapi_extra=json_body(RerankRequest, RERANK),
    summary="Rerank documents (Cohere v2)",
    description=_DESCRIPTION,
)
async def rerank_v2(http: Request, caller: Authenticated) -> Response:
    return await _rerank(http, caller, "2")


async def _rerank(http: Request, caller: Caller, version: ApiVersionNumber) -> Response:
    request = await parse_request(http, RerankRequest, caller.ctx)
    response = await caller.services.rerank.rerank(caller.ctx, request, version)
    return json_response(response, response_headers(caller.ctx))
