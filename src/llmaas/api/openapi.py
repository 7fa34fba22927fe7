"""The OpenAPI document: FastAPI's, plus the bearer-key scheme on every ``/v1`` operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from llmaas.openai_schema.chat import ChatCompletionChunk, ChatCompletionRequest
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.openai_schema.rerank import RerankRequest

# Bodies parsed by api/body.py rather than by FastAPI: their schemas are added here.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    RerankRequest,
)
STREAMED_MODELS: tuple[type[BaseModel], ...] = (ChatCompletionChunk,)
"""Documented by reference from ``text/event-stream`` responses, which FastAPI does not collect."""

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An llmaas API key: `Authorization: Bearer sk-llmaas-...`",
}


def openapi_with_bearer(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = document.setdefault("components", {})
            components["securitySchemes"] = {"bearerAuth": BEARER}
            schemas = components.setdefault("schemas", {})
            for model in REQUEST_MODELS:
                schema = model.model_json_schema(
                    ref_template="#/components/schemas/{model}", mode="validation"
                )
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            for model in STREAMED_MODELS:
                schema = model.model_json_schema(
                    ref_template="#/components/schemas/{model}", mode="serialization"
                )
                schemas.update(schema.pop("$defs", {}))
                schemas.setdefault(model.__name__, schema)
            for path, operations in document.get("paths", {}).items():
                for operation in operations.values():
                    # FastAPI documents a 422 that llmaas never sends (validation errors are 400s).
                    operation.get("responses", {}).pop("422", None)
                    if path.startswith(("/v1/", "/v2/")):
                        operation["security"] = [{"bearerAuth": []}]
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = document
        return app.openapi_schema

    return build
