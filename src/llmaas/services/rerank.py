"""Rerank: authenticate (at the edge) -> admit -> route -> call backend -> sort -> meter."""

from __future__ import annotations

from math import ceil
from typing import Literal

from llmaas.domain.models import Capability
from llmaas.domain.usage import Outcome, TokenUsage
from llmaas.openai_schema.rerank import (
    SEARCH_UNIT_DOCUMENTS,
    ApiVersion,
    BilledUnits,
    RerankDocument,
    RerankMeta,
    RerankRequest,
    RerankResponse,
    RerankResponseResult,
)
from llmaas.ports.backends import InferenceBackend, OperationNotSupported, Reranker, RerankResult
from llmaas.services.completions import RequestContext
from llmaas.services.demand import rerank_demand
from llmaas.services.failover import Attempts
from llmaas.services.metering import RERANK, Metering
from llmaas.services.routing import Router

ApiVersionNumber = Literal["1", "2"]


class RerankService:
    def __init__(self, router: Router, metering: Metering, attempts: Attempts) -> None:
        self._router = router
        self._metering = metering
        self._attempts = attempts

    async def rerank(
        self, ctx: RequestContext, request: RerankRequest, version: ApiVersionNumber
    ) -> RerankResponse:
        route = ctx.route = self._router.resolve(ctx.principal, request.model, Capability.RERANK)
        demand = rerank_demand(route.model, request, ctx.body_bytes)
        meter = await self._metering.admit(
            ctx.principal, ctx.request_id, route.model, RERANK, demand
        )
        ctx.rate_limits = meter.reservation.status
        texts = request.texts()
        try:
            result, deployment = await self._attempts.call(
                route,
                lambda b: reranker(b, route.model.id).rerank(request.query, texts, request.top_n),
            )
            meter.deployment = deployment.name
            meter.usage = TokenUsage(prompt_tokens=result.prompt_tokens)
            meter.outcome = Outcome.OK
            response = rerank_response(ctx.request_id, route.model.id, request, result, version)
            response.backend = ctx.served_by(deployment)
            return response
        finally:
            meter.finish()


def reranker(backend: InferenceBackend, model: str) -> Reranker:
    """The catalog says the model reranks; an engine that cannot is a configuration mistake, refused
    like any operation an engine lacks rather than answered with made-up scores."""
    if not isinstance(backend, Reranker):
        raise OperationNotSupported(
            f"The model '{model}' does not support reranking on this deployment.", param="model"
        )
    return backend


def rerank_response(
    request_id: str,
    model: str,
    request: RerankRequest,
    result: RerankResult,
    version: ApiVersionNumber,
) -> RerankResponse:
    """Best first; a tie keeps the documents' order, so equal scores give a stable answer."""
    texts = request.texts()
    order = sorted(range(len(texts)), key=lambda i: -result.scores[i])
    if request.top_n is not None:
        order = order[: request.top_n]
    results = [
        RerankResponseResult(
            index=i,
            relevance_score=result.scores[i],
            document=RerankDocument(text=texts[i]) if request.return_documents else None,
        )
        for i in order
    ]
    billed = BilledUnits(
        search_units=ceil(len(texts) / SEARCH_UNIT_DOCUMENTS), input_tokens=result.prompt_tokens
    )
    meta = RerankMeta(api_version=ApiVersion(version=version), billed_units=billed)
    return RerankResponse(id=request_id, results=results, meta=meta, model=model)
