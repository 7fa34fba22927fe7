from __future__ import annotations

import pytest

from llmaas.api.errors import parameter_path, status_and_type
from llmaas.domain import errors


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("body", "temperature"), "temperature"),
        (("body", "messages", 0, "role=user", "content", "str"), "messages[0].content"),
        (("body", "messages", 2, "role=tool", "tool_call_id"), "messages[2].tool_call_id"),
        (("body", "input", "constrained-str"), "input"),
        (("body", "tools", 0, "function", "name"), "tools[0].function.name"),
        (("body", "stop", "list[str]"), "stop"),
        (("body",), None),
    ],
)
def test_validation_locations_become_openai_parameter_paths(
    loc: tuple[str | int, ...], expected: str | None
) -> None:
    assert parameter_path(loc) == expected


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidApiKey("x"), 401),
        (errors.ModelNotFound("x"), 404),
        (errors.ContextLengthExceeded("x"), 400),
        (errors.UpstreamRejected("x"), 400),
        (errors.PayloadTooLarge("x"), 413),
        (errors.UpstreamRateLimited("x"), 429),
        (errors.UpstreamFailed("x"), 502),
        (errors.BackendUnavailable("x"), 503),
        (errors.UpstreamTimeout("x"), 504),
        (errors.LlmaasError("x"), 500),
    ],
)
def test_every_domain_error_has_one_status(error: errors.LlmaasError, status: int) -> None:
    assert status_and_type(error)[0] == status


def test_subclasses_keep_their_default_codes() -> None:
    assert errors.ContextLengthExceeded("x").code == "context_length_exceeded"
    assert errors.InvalidRequest("x", code="custom").code == "custom"
