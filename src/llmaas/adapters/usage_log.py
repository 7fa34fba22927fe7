"""Usage events as structured log lines: metadata only, by the construction of ``UsageEvent``.

A usage observer: the lines are written off the request path, with each stored batch, so an operator's
log pipeline sees exactly what the usage tables hold.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from llmaas.domain.usage import UsageEvent

_log = logging.getLogger("llmaas.usage")


class LoggingUsageObserver:
    def observe(self, events: Sequence[UsageEvent]) -> None:
        if not _log.isEnabledFor(logging.INFO):
            return
        for event in events:
            _log.info(
                "usage",
                extra={
                    "request_id": event.request_id,
                    "organization_id": event.organization_id,
                    "key_id": event.key_id,
                    "model": event.model,
                    "deployment": event.deployment,
                    "endpoint": event.endpoint,
                    "prompt_tokens": event.usage.prompt_tokens,
                    "completion_tokens": event.usage.completion_tokens,
                    "reasoning_tokens": event.usage.reasoning_tokens,
                    "cost_micros": event.cost_micros,
                    "latency_ms": round(event.latency_ms, 2),
                    "outcome": str(event.outcome),
                    "streamed": event.streamed,
                },
            )
