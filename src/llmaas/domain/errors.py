"""Domain errors.

They carry what went wrong in the caller's terms (a message, the offending request parameter, a stable
machine code) but no transport detail: ``api/errors.py`` is the single table that turns each class into an
HTTP status and the OpenAI error envelope. Messages must never contain prompt or response content.
"""

from __future__ import annotations

from llmaas.domain.quotas import Dimension, RateLimitStatus


def echoed_id(value: str) -> str:
    """An identifier a client sent (model, key, tier or organization id), fit to quote in an error:
    ids are not content, but what is echoed is bounded and stripped of control characters anyway."""
    return "".join(c for c in value if c.isprintable())[:100]


class LlmaasError(Exception):
    """Base class: every error a client may see derives from it."""

    default_code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code


class InvalidApiKey(LlmaasError):
    default_code = "invalid_api_key"


class PermissionDenied(LlmaasError):
    """The key is valid but may not use this resource (e.g. a model outside its allow-list)."""

    default_code = "model_not_allowed"


class ModelNotFound(LlmaasError):
    default_code = "model_not_found"


class InvalidRequest(LlmaasError):
    """The request is well-formed JSON but asks for something invalid."""


class UnsupportedParameter(InvalidRequest):
    default_code = "unsupported_parameter"


class PromptInjectionDetected(InvalidRequest):
    """The guardrail found an injection and the caller's policy blocks: the message names the
    threats and the fields, never the text."""

    default_code = "prompt_injection_detected"


class ContextLengthExceeded(InvalidRequest):
    default_code = "context_length_exceeded"


class PayloadTooLarge(LlmaasError):
    default_code = "payload_too_large"


class ModelNotDeployed(ModelNotFound):
    """In the catalog, but this installation runs no deployment of it."""

    default_code = "model_not_deployed"


class ModelRetired(LlmaasError):
    """Past its end of support; the message names the replacement."""

    default_code = "model_retired"

    def __init__(self, message: str, *, replacement: str | None) -> None:
        super().__init__(message, param="model")
        self.replacement = replacement


class NotFound(LlmaasError):
    """A route or object that does not exist (distinct from an unknown model)."""

    default_code = "not_found"


class BackendUnavailable(LlmaasError):
    """No deployment of the model can take the request right now (down, loading, refused connection)."""

    default_code = "backend_unavailable"


class CountersUnavailable(LlmaasError):
    """The shared counters (Redis) cannot be reached: no request is served without its rate limits
    and budget checked (fail closed), so the client is told to retry shortly."""

    default_code = "limits_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NoCompliantDeployment(BackendUnavailable):
    """The organization's data policy (countries, certifications) excludes every healthy deployment."""

    default_code = "no_compliant_deployment"


class UpstreamTimeout(LlmaasError):
    default_code = "upstream_timeout"


class UpstreamRateLimited(LlmaasError):
    """The inference engine pushed back; the client may retry after ``retry_after`` seconds."""

    default_code = "upstream_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeploymentsSaturated(UpstreamRateLimited):
    """Every deployment of the model is at its concurrency cap."""

    default_code = "model_overloaded"


class UpstreamRejected(InvalidRequest):
    """The engine refused the request as invalid (its 4xx); we relay the code, not its free text."""

    default_code = "upstream_rejected"


class UpstreamFailed(LlmaasError):
    """The engine answered with a server error or broke the protocol."""

    default_code = "upstream_error"


class LimitReached(LlmaasError):
    """Admission refused the request: a rate limit, budget or credit would be exceeded."""

    def __init__(
        self,
        message: str,
        *,
        dimension: Dimension,
        retry_after: float | None,
        status: RateLimitStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.dimension = dimension
        self.retry_after = retry_after
        self.status = status


class RateLimitExceeded(LimitReached):
    default_code = "rate_limit_exceeded"


class QuotaExceeded(LimitReached):
    """A budget, quota or prepaid credit is used up (OpenAI's ``insufficient_quota``)."""

    default_code = "insufficient_quota"


class OrganizationDisabled(PermissionDenied):
    default_code = "organization_disabled"
