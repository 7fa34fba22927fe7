"""The OpenAPI document: FastAPI's, plus the bearer-key scheme on every ``/v1`` operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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
            document.setdefault("components", {})["securitySchemes"] = {"bearerAuth": BEARER}
            for path, operations in document.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearerAuth": []}]
            app.openapi_schema = document
        return app.openapi_schema

    return build
