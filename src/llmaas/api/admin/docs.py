"""How admin operations are documented in the OpenAPI document, and how they answer.

Admin bodies are parsed by ``api/body.py`` like the ``/v1`` ones, so FastAPI does not see them; each
operation documents its body here, with the schema inlined (the shared component list is built from the
``/v1`` request models only) and with examples. Every response model carries an example too.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from llmaas.api.admin.values import ResponseModel
from llmaas.api.body import parse_body
from llmaas.openai_schema.errors import ErrorResponse

M = TypeVar("M", bound=BaseModel)

SECURITY: dict[str, Any] = {"security": [{"bearerAuth": []}]}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request (names the `param`)"},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key"},
    403: {"model": ErrorResponse, "description": "Not an admin key (`admin_required`)"},
    404: {"model": ErrorResponse, "description": "No such tier, organization or key"},
}


def answers(model: type[ResponseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation: its body with the model's example, and the errors."""
    # Read from the model's config rather than its JSON schema, which sorts the example's keys.
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} has no example"
    example = cast(list[Any], extra["examples"])[0]
    return {
        status: {
            "model": model,
            "description": model.__doc__ or "OK",
            "content": {"application/json": {"example": example}},
        },
        **ERRORS,
    }


def body(
    model: type[BaseModel], examples: dict[str, Any], *, required: bool = True
) -> dict[str, Any]:
    """The ``openapi_extra`` of an operation with a JSON body (and the bearer scheme)."""
    return {
        **SECURITY,
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": inline_schema(model), "examples": examples}},
        },
    }


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its nested models substituted where they are referenced."""
    schema = model.model_json_schema(mode="validation")
    definitions = schema.pop("$defs", {})
    resolved: dict[str, Any] = _resolve(schema, definitions)
    return resolved


def _resolve(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _resolve(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _resolve(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, definitions) for item in node]
    return node


async def parse_optional_body(request: Request, model: type[M]) -> M:
    """A body whose every field has a default may be left out entirely."""
    if not (await request.body()).strip():
        return model()
    return await parse_body(request, model)


def reply(body: ResponseModel, status: int = 200) -> Response:
    return Response(body.to_json(), status_code=status, media_type="application/json")
