"""Active health checks and performance probes of every deployment, in the background.

Every ``interval`` seconds each deployment's liveness is checked (a cheap call: ``GET /models`` for a
remote engine) and the draining flags raised through the admin API on any instance are read from the
shared counters. A deployment that failed and answers again rejoins the rotation at the next round.
Every ``probe_interval`` seconds a short real generation measures time to first token and tokens per
second, the figures ``/status`` shows. Probes are not metered: no client asked for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from llmaas.domain.models import Capability
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from llmaas.ports.clock import Clock
from llmaas.ports.counters import Counters
from llmaas.services.failover import aclose_stream
from llmaas.services.fleet import Deployment, ProbeFigures

_log = logging.getLogger("llmaas.health")

DRAIN_FLAG_TTL_SECONDS = 90 * 24 * 3600
_PROBE_PROMPT = "Reply with the single word OK."
_PROBE_TOKENS = 16


def drain_flag(deployment: str) -> str:
    return f"drain:{deployment}"


class HealthChecker:
    def __init__(
        self,
        deployments: Sequence[Deployment],
        counters: Counters,
        clock: Clock,
        *,
        interval: float,
        probe_interval: float,
        capabilities: dict[str, frozenset[Capability]],
    ) -> None:
        self._deployments = tuple(deployments)
        self._counters = counters
        self._clock = clock
        self._interval = interval
        self._probe_interval = probe_interval
        self._capabilities = capabilities
        self._task: asyncio.Task[None] | None = None
        self._next_probe: float | None = None

    def start(self) -> None:
        if self._deployments and self._task is None:
            # The first probes wait a while: a server that just started has better things to do.
            first = min(self._probe_interval, 60.0)
            self._next_probe = self._clock.monotonic() + first
            self._task = asyncio.create_task(self._run(), name="llmaas-health-checks")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check_once()
                if self._probe_due():
                    await self.probe_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - one bad round must not stop the checks
                _log.warning("health round failed", extra={"error_type": type(error).__name__})

    def _probe_due(self) -> bool:
        if self._probe_interval <= 0 or self._next_probe is None:
            return False
        now = self._clock.monotonic()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._probe_interval
        return True

    async def check_once(self) -> None:
        await self._read_drain_flags()
        await asyncio.gather(*(self._check(d) for d in self._deployments))

    async def _read_drain_flags(self) -> None:
        try:
            flags = await self._counters.read([drain_flag(d.name) for d in self._deployments])
        except Exception as error:  # noqa: BLE001 - counters down: keep the last known flags
            _log.warning("drain flags unreadable", extra={"error_type": type(error).__name__})
            return
        for deployment, flag in zip(self._deployments, flags, strict=True):
            deployment.draining_flag = flag > 0

    async def _check(self, deployment: Deployment) -> None:
        try:
            healthy = await asyncio.wait_for(
                deployment.backend.is_healthy(), timeout=max(1.0, min(self._interval, 5.0))
            )
        except Exception:  # noqa: BLE001 - a check that fails in any way says "down"
            healthy = False
        was = deployment.healthy
        deployment.mark_checked(healthy, self._clock.monotonic())
        if was != healthy:
            _log.info(
                "deployment %s", "up" if healthy else "down", extra={"deployment": deployment.name}
            )

    async def probe_once(self) -> None:
        for deployment in self._deployments:  # one at a time: probes must not compete
            if deployment.healthy:
                deployment.probe = await self._probe(deployment)

    async def _probe(self, deployment: Deployment) -> ProbeFigures:
        capabilities = self._capabilities.get(deployment.model_id, frozenset())
        started = self._clock.monotonic()
        checked_at = self._clock.now().timestamp()
        try:
            if Capability.CHAT in capabilities:
                return await self._probe_chat(deployment, started, checked_at)
            if Capability.EMBEDDINGS in capabilities:
                request = EmbeddingRequest(model=deployment.model_id, input="ping")
                await deployment.backend.embed(request)
                elapsed = (self._clock.monotonic() - started) * 1000
                return ProbeFigures(checked_at=checked_at, ok=True, latency_ms=round(elapsed, 1))
        except Exception as error:  # noqa: BLE001 - any failure is a failed probe, reported as such
            _log.info(
                "probe failed",
                extra={"deployment": deployment.name, "error_type": type(error).__name__},
            )
            return ProbeFigures(checked_at=checked_at, ok=False)
        return ProbeFigures(checked_at=checked_at, ok=True)

    async def _probe_chat(
        self, deployment: Deployment, started: float, checked_at: float
    ) -> ProbeFigures:
        request = ChatCompletionRequest.model_validate(
            {
                "model": deployment.model_id,
                "messages": [{"role": "user", "content": _PROBE_PROMPT}],
                "max_tokens": _PROBE_TOKENS,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        first: float | None = None
        tokens = 0
        stream = deployment.backend.chat_stream(request)
        try:
            async for chunk in stream:
                if first is None and any(c.delta.content for c in chunk.choices):
                    first = self._clock.monotonic()
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
        finally:
            await aclose_stream(stream)
        ended = self._clock.monotonic()
        ttft = None if first is None else round((first - started) * 1000, 1)
        rate = None
        if first is not None and tokens > 1 and ended > first:
            rate = round((tokens - 1) / (ended - first), 1)
        total = round((ended - started) * 1000, 1)
        return ProbeFigures(
            checked_at=checked_at,
            ok=True,
            latency_ms=total,
            time_to_first_token_ms=ttft,
            tokens_per_second=rate,
        )
