"""Embeddings: authenticate (at the edge) -> admit -> route -> call backend -> encode -> meter."""

from __future__ import annotations

import base64
import sys
from array import array

from llmaas.domain.errors import InvalidRequest
from llmaas.domain.models import Capability, ServedModel
from llmaas.domain.usage import Outcome, TokenUsage
from llmaas.openai_schema.embeddings import CreateEmbeddingResponse, Embedding, EmbeddingRequest
from llmaas.openai_schema.usage import EmbeddingUsage
from llmaas.ports.backends import EmbeddingResult
from llmaas.services.completions import RequestContext
from llmaas.services.demand import embedding_demand
from llmaas.services.failover import Attempts
from llmaas.services.metering import Metering
from llmaas.services.routing import Router


class EmbeddingsService:
    def __init__(self, router: Router, metering: Metering, attempts: Attempts) -> None:
        self._router = router
        self._metering = metering
        self._attempts = attempts

    async def embed(
        self, ctx: RequestContext, request: EmbeddingRequest
    ) -> CreateEmbeddingResponse:
        route = ctx.route = self._router.resolve(
            ctx.principal, request.model, Capability.EMBEDDINGS
        )
        _check_dimensions(route.model, request.dimensions)
        demand = embedding_demand(route.model, request, ctx.body_bytes)
        meter = await self._metering.admit(
            ctx.principal, ctx.request_id, route.model, "embeddings", demand
        )
        ctx.rate_limits = meter.reservation.status
        try:
            result, deployment = await self._attempts.call(route, lambda b: b.embed(request))
            meter.deployment = deployment.name
            meter.usage = TokenUsage(prompt_tokens=result.prompt_tokens)
            meter.outcome = Outcome.OK
            response = _response(route.model.id, result, request.encoding_format)
            response.backend = ctx.served_by(deployment)
            return response
        finally:
            meter.finish()


def _check_dimensions(model: ServedModel, dimensions: int | None) -> None:
    """Our embedders have one native size: truncating a non-Matryoshka vector would silently degrade
    retrieval, so any other size is refused rather than faked."""
    if dimensions is not None and dimensions != model.embedding_dimensions:
        raise InvalidRequest(
            f"The model '{model.id}' only produces {model.embedding_dimensions}-dimensional "
            "embeddings; omit 'dimensions' or set it to that value.",
            param="dimensions",
            code="unsupported_dimensions",
        )


def _response(model: str, result: EmbeddingResult, encoding: str) -> CreateEmbeddingResponse:
    data = [
        Embedding(index=i, embedding=encode_base64(v) if encoding == "base64" else v)
        for i, v in enumerate(result.vectors)
    ]
    usage = EmbeddingUsage(prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens)
    return CreateEmbeddingResponse(data=data, model=model, usage=usage)


def encode_base64(vector: list[float]) -> str:
    """OpenAI's base64 format: little-endian float32, the SDK's default encoding."""
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")
