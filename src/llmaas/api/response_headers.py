"""Headers every inference response carries besides its body.

- ``x-ratelimit-*``: the caller's windows, as OpenAI sends them.
- ``Deprecation`` (RFC 9745, a structured date) and ``Sunset`` (RFC 8594, an HTTP date) when the model
  called is deprecated, with a ``Link`` to its successor and to the lifecycle feed, so clients learn
  it from the API, not from an e-mail they missed.
- ``x-llmaas-backend``: which engine and machine served it (``vllm/gpu-1``).
- ``x-llmaas-redirected-from``: the retired model whose call its replacement served.
- ``x-llmaas-guardrail``: under a ``flag`` policy, the prompt-injection threats found in a request
  that was served anyway (``flagged; threats=instruction_override,prompt_extraction``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from urllib.parse import quote

from llmaas.api.rate_limits import rate_limit_headers
from llmaas.domain.models import ServedModel
from llmaas.services.completions import RequestContext

LIFECYCLE_FEED = "/lifecycle"


def response_headers(ctx: RequestContext) -> dict[str, str]:
    headers = rate_limit_headers(ctx.rate_limits)
    route = ctx.route
    if route is not None:
        if route.deprecated is not None:
            headers.update(deprecation_headers(route.deprecated))
        if route.redirected_from is not None:
            headers["x-llmaas-redirected-from"] = route.redirected_from
    if ctx.guard is not None and ctx.guard.detected:
        headers["x-llmaas-guardrail"] = f"flagged; threats={','.join(ctx.guard.threats)}"
    if ctx.deployment is not None:
        headers["x-llmaas-backend"] = f"{ctx.deployment.engine}/{ctx.deployment.machine_name}"
    return headers


def deprecation_headers(model: ServedModel) -> dict[str, str]:
    lifecycle = model.lifecycle
    headers: dict[str, str] = {}
    announced = lifecycle.deprecation_notice or lifecycle.sunset
    if announced is not None:
        headers["Deprecation"] = f"@{int(_midnight(announced).timestamp())}"
    else:
        headers["Deprecation"] = "?1"  # deprecated, date not recorded (RFC 9745 allows no date)
    if lifecycle.sunset is not None:
        headers["Sunset"] = format_datetime(_midnight(lifecycle.sunset), usegmt=True)
    links = [f'<{LIFECYCLE_FEED}>; rel="deprecation"; type="application/json"']
    if lifecycle.replacement is not None:
        links.insert(
            0, f'</v1/models/{quote(lifecycle.replacement, safe=":")}>; rel="successor-version"'
        )
    headers["Link"] = ", ".join(links)
    return headers


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)
