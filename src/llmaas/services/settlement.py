"""Settling reservations off the response path, merged into as few counter calls as possible.

A finished request hands its counter differences and its concurrency slots to :class:`Settlements` and
returns at once. One background task applies whatever has accumulated in a single ``adjust`` call:
under load, many requests settle in one Redis round trip instead of one each, and no request waits for
its own settlement (nor can a cancelled request interrupt it). Slots are given back within one event-loop
turn, so a client with a concurrency limit of one can send its next request straight away.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence

from llmaas.ports.counters import Counters

_log = logging.getLogger("llmaas.admission")


class Settlements:
    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._deltas: defaultdict[str, int] = defaultdict(int)
        self._slots: list[tuple[str, str]] = []
        self._task: asyncio.Task[None] | None = None

    def submit(self, deltas: Sequence[tuple[str, int]], slots: Sequence[tuple[str, str]]) -> None:
        for key, delta in deltas:
            self._deltas[key] += delta
        self._slots.extend(slots)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._apply())

    async def drain(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _apply(self) -> None:
        while self._deltas or self._slots:
            deltas = [(key, delta) for key, delta in self._deltas.items() if delta]
            slots = self._slots
            self._deltas = defaultdict(int)
            self._slots = []
            try:
                await self._counters.adjust(deltas, slots)
            except Exception as error:  # noqa: BLE001 - logged; leases expire by themselves
                _log.error(
                    "settlement failed",
                    extra={
                        "counters": len(deltas),
                        "slots": len(slots),
                        "error": type(error).__name__,
                    },
                )
