"""Readiness: can this instance serve traffic right now (database reachable, engines up)?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

Probe = Callable[[], Awaitable[bool]]


class Readiness:
    def __init__(self, probes: Mapping[str, Probe], *, timeout: float = 2.0) -> None:
        self._probes = dict(probes)
        self._timeout = timeout

    async def check(self) -> dict[str, bool]:
        names = list(self._probes)
        results = await asyncio.gather(*(self._run(self._probes[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, probe: Probe) -> bool:
        try:
            return await asyncio.wait_for(probe(), self._timeout)
        except Exception:  # noqa: BLE001 - a failing probe means "not ready", whatever the cause
            return False
