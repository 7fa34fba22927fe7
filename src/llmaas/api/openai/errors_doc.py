"""The error responses every ``/v1`` operation documents."""

from __future__ import annotations

from typing import Any

from llmaas.openai_schema.errors import ErrorResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request (names the `param`)"},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key"},
    404: {"model": ErrorResponse, "description": "Unknown model (or not allowed for this key)"},
    410: {
        "model": ErrorResponse,
        "description": "The model is retired (`model_retired`); the message names its replacement",
    },
    413: {"model": ErrorResponse, "description": "Request body too large"},
    429: {
        "model": ErrorResponse,
        "description": "A rate limit or budget of the key or organization, or every deployment "
        "is at capacity",
    },
    502: {"model": ErrorResponse, "description": "The inference engine failed"},
    503: {
        "model": ErrorResponse,
        "description": "No deployment of the model is available (`backend_unavailable`), or none "
        "that meets the organization's data policy (`no_compliant_deployment`)",
    },
    504: {"model": ErrorResponse, "description": "The inference engine timed out"},
}
