"""Readiness: can this instance serve traffic right now (database reachable, engines up)?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

Probe = Callable[[], Awaitable[bool]]


class Readiness:
    def __init__(self, probes: Mapping[str, Probe], *, timeout: float = 2.0) -> None:
        self._probes = dict(probes)
        self._timeout = timeout
        self._draining = False

    def begin_drain(self) -> None:
        """The instance is stopping: not ready from now on, whatever the probes say, so that load
        balancers stop sending it requests while it finishes those it has."""
        self._draining = True

    async def check(self) -> dict[str, bool]:
        names = list(self._probes)
        results = await asyncio.gather(*(self._run(self._probes[n]) for n in names))
        return {"accepting": not self._draining, **dict(zip(names, results, strict=True))}

    async def _run(self, probe: Probe) -> bool:
        try:
            return await asyncio.wait_for(probe(), self._timeout)
        except Exception:  # noqa: BLE001 - a failing probe means "not ready", whatever the cause
            return False
