"""Readiness: can this instance serve traffic right now?

It needs all of its own dependencies (the database, the shared counters, not draining) and at least
one servable model. One model whose engines are all down does not make the instance unready: every
instance shares that engine fleet, so a load balancer pulling them all for it would take every other
model down with it; the router answers that model's requests with 503 and the per-model checks show
it. Only when no model at all can be served is the instance not ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

Probe = Callable[[], Awaitable[bool]]


class Readiness:
    def __init__(
        self,
        probes: Mapping[str, Probe],
        *,
        models: Mapping[str, Probe] | None = None,
        timeout: float = 2.0,
    ) -> None:
        self._probes = dict(probes)
        self._models = dict(models or {})
        self._timeout = timeout
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    def begin_drain(self) -> None:
        """The instance is stopping: not ready from now on, whatever the probes say, so that load
        balancers stop sending it requests while it finishes those it has."""
        self._draining = True

    async def check(self) -> tuple[bool, dict[str, bool]]:
        """Whether the instance is ready, and every check's result (``model:<id>`` per model)."""
        probes = {**self._probes, **self._models}
        names = list(probes)
        results = dict(
            zip(names, await asyncio.gather(*(self._run(probes[n]) for n in names)), strict=True)
        )
        own = not self._draining and all(results[name] for name in self._probes)
        servable = not self._models or any(results[name] for name in self._models)
        return own and servable, {"accepting": not self._draining, **results}

    async def _run(self, probe: Probe) -> bool:
        try:
            return await asyncio.wait_for(probe(), self._timeout)
        except Exception:  # noqa: BLE001 - a failing probe means "not ready", whatever the cause
            return False
