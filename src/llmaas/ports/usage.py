"""Where usage events go once a request is done (a log today; batched storage with metering)."""

from __future__ import annotations

from typing import Protocol

from llmaas.domain.usage import UsageEvent


class UsageRecorder(Protocol):
    def record(self, event: UsageEvent) -> None:
        """Must not block or raise: it runs in the request's ``finally``."""
