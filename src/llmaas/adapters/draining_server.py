"""uvicorn's server with a drain phase in front of its graceful shutdown.

A load balancer (a Kubernetes Service, HAProxy) takes seconds to notice that an instance is going: if
the instance closed its listening socket at SIGTERM, the requests routed to it meanwhile would be
refused. So the first SIGTERM (or SIGINT) starts a drain instead: ``/readyz`` answers 503 at once, and
requests keep being served for ``shutdown_delay`` seconds, which is when the balancer stops sending
any. Then uvicorn's own graceful shutdown runs: the listener closes, in-flight requests and streams get
up to ``timeout_graceful_shutdown`` seconds to finish, and the lifespan flushes the usage records. A
second signal skips the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import FrameType

import uvicorn


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, *, shutdown_delay: float, on_drain: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._shutdown_delay = shutdown_delay
        self._on_drain = on_drain
        self._exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._exit_at is not None or self._shutdown_delay <= 0:
            if self._exit_at is None:
                self._on_drain()
            super().handle_exit(sig, frame)
            return
        # Called from the signal handler: only note the time; the server's tick acts on it.
        self._on_drain()
        self._exit_at = time.monotonic() + self._shutdown_delay
        self._captured_signals.append(sig)

    async def on_tick(self, counter: int) -> bool:
        if self._exit_at is not None and time.monotonic() >= self._exit_at:
            self.should_exit = True
        return await super().on_tick(counter)
