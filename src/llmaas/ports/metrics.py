"""What the HTTP edge needs from metrics: a rendered exposition, nothing about how it was collected.

The ``/metrics`` route depends on this Protocol rather than on ``observability.metrics``, so the API
knows no metrics library and a test can serve any bytes it likes.
"""

from __future__ import annotations

from typing import Protocol


class MetricsRenderer(Protocol):
    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type; called on each scrape."""
        ...
