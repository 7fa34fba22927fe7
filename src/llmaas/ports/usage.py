"""Where usage events go once a request is done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from llmaas.domain.usage import UsageEvent


class UsageRecorder(Protocol):
    def record(self, event: UsageEvent) -> None:
        """Must not block or raise: it runs in the request's ``finally``."""


class UsageObserver(Protocol):
    def observe(self, events: Sequence[UsageEvent]) -> None:
        """Called off the request path with each batch (metrics); must not raise."""
