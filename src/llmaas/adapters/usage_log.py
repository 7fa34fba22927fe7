"""Usage events as structured log lines: metadata only, by the construction of ``UsageEvent``."""

from __future__ import annotations

import logging

from llmaas.domain.usage import UsageEvent

_log = logging.getLogger("llmaas.usage")


class LoggingUsageRecorder:
    def __init__(self) -> None:
        self.recorded = 0

    def record(self, event: UsageEvent) -> None:
        self.recorded += 1
        if not _log.isEnabledFor(logging.INFO):
            return
        _log.info(
            "usage",
            extra={
                "request_id": event.request_id,
                "key_id": event.key_id,
                "model": event.model,
                "deployment": event.deployment,
                "endpoint": event.endpoint,
                "prompt_tokens": event.usage.prompt_tokens,
                "completion_tokens": event.usage.completion_tokens,
                "reasoning_tokens": event.usage.reasoning_tokens,
                "latency_ms": round(event.latency_ms, 2),
                "outcome": str(event.outcome),
                "streamed": event.streamed,
            },
        )
