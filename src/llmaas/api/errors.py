"""The single table from domain errors to HTTP statuses and OpenAI's error envelope.

Validation errors name the offending parameter (``messages[0].content``) but never echo the submitted
value. Unexpected failures are caught by ``middleware.RequestContextMiddleware``: a 500 with a request
id, never a traceback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from llmaas.api.rate_limits import rate_limit_headers
from llmaas.domain import errors as domain
from llmaas.domain.quotas import Dimension

# error class -> (HTTP status, OpenAI error type)
_TABLE: dict[type[domain.LlmaasError], tuple[int, str]] = {
    domain.InvalidApiKey: (401, "invalid_request_error"),
    domain.PermissionDenied: (403, "permission_error"),
    domain.ModelNotFound: (404, "invalid_request_error"),
    domain.NotFound: (404, "invalid_request_error"),
    domain.ModelRetired: (410, "invalid_request_error"),
    domain.InvalidRequest: (400, "invalid_request_error"),
    domain.PayloadTooLarge: (413, "invalid_request_error"),
    domain.UpstreamRateLimited: (429, "rate_limit_error"),
    domain.RateLimitExceeded: (429, "requests"),
    domain.QuotaExceeded: (429, "insufficient_quota"),
    domain.UpstreamFailed: (502, "server_error"),
    domain.BackendUnavailable: (503, "server_error"),
    domain.CountersUnavailable: (503, "server_error"),
    domain.UpstreamTimeout: (504, "server_error"),
}

_TOKEN_DIMENSIONS = frozenset(
    {
        Dimension.TOKENS_PER_MINUTE,
        Dimension.OUTPUT_TOKENS_PER_HOUR,
        Dimension.OUTPUT_TOKENS_PER_DAY,
    }
)

_HTTP_CODES = {404: "unknown_url", 405: "method_not_allowed", 413: "payload_too_large"}


def status_and_type(error: domain.LlmaasError) -> tuple[int, str]:
    if isinstance(error, domain.RateLimitExceeded) and error.dimension in _TOKEN_DIMENSIONS:
        return 429, "tokens"  # OpenAI's type says which kind of window ran out
    for cls in type(error).__mro__:
        if cls in _TABLE:
            return _TABLE[cls]
    return 500, "server_error"


def error_json(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


def domain_error_json(error: domain.LlmaasError) -> bytes:
    _, type_ = status_and_type(error)
    return error_json(error.message, type_, error.param, error.code)


def error_response(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_json(message, type_, param, code),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def _on_domain_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, domain.LlmaasError)
    status, type_ = status_and_type(error)
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if isinstance(error, domain.LimitReached):
        headers.update(rate_limit_headers(error.status))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, error.message, type_, error.param, error.code, headers)


async def _on_validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return error_response(
            400,
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            "invalid_request_error",
            code="invalid_json",
        )
    param = parameter_path(first.get("loc", ()))
    return error_response(
        400, _message_of(first, param), "invalid_request_error", param, _code_of(first)
    )


def _message_of(error: dict[str, Any], param: str | None) -> str:
    kind = error.get("type")
    if kind == "missing":
        return f"Missing required parameter: '{param}'."
    context = error.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = context.get("expected_tags", "")
        detail = f"'{context.get('discriminator', 'type')}' must be one of {expected}".replace(
            "role=", ""
        )
    else:
        detail = str(error.get("msg", "is invalid")).rstrip(".")
    message = f"Invalid value for '{param}': {detail}." if param else f"Invalid request: {detail}."
    submitted = error.get("input")
    # Last line of defence: whatever pydantic says, never send the submitted text back.
    if isinstance(submitted, str) and len(submitted) > 2 and submitted in message:
        return f"Invalid value for '{param}'." if param else "Invalid request."
    return message


def _code_of(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "missing_required_parameter"
    if kind == "extra_forbidden":
        return "unknown_parameter"
    return "invalid_value"


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
    else:
        message = str(error.detail)
    type_ = "invalid_request_error" if error.status_code < 500 else "server_error"
    return error_response(
        error.status_code,
        message,
        type_,
        code=_HTTP_CODES.get(error.status_code),
        headers=dict(error.headers) if error.headers else None,
    )


_SKIPPED = re.compile(r"[\[\]=(),-]|^(str|int|float|bool|list|dict|none)$")


def parameter_path(loc: Sequence[Any]) -> str | None:
    """``("body", "messages", 0, "role=user", "content")`` -> ``messages[0].content``."""
    path = ""
    for item in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(item, int):
            path += f"[{item}]"
        elif isinstance(item, str) and not _SKIPPED.search(item):
            path += f".{item}" if path else item
    return path or None


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(domain.LlmaasError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
