"""Spend counters come from stored usage: at start, and again whenever the shared counters were wiped.

A Redis restarted without persistence comes back empty: every month's spend would start again from
zero and budgets would be handed out afresh. Admission refuses (503, retry shortly) while the seeded
marker is missing, and this watcher, on every instance, notices it within a second, waits until every
instance has written the usage records it still held (``settle_seconds``: two usage flushes), and
seeds the spend again from the stored usage (``Admission.restore``, idempotent: values are only set
where missing), after which requests are admitted with the limits they had. Short windows (requests per minute,
tokens per hour) restart empty: they cannot be rebuilt exactly, and last at most a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from llmaas.domain.errors import CountersUnavailable
from llmaas.domain.usage_reports import month_start
from llmaas.ports.clock import Clock
from llmaas.ports.repositories import UnitOfWorkFactory
from llmaas.services.admission import Admission

_log = logging.getLogger("llmaas.admission")


class CounterRecovery:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        admission: Admission,
        clock: Clock,
        *,
        interval_seconds: float = 1.0,
        settle_seconds: float = 2.5,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._admission = admission
        self._clock = clock
        self._interval = interval_seconds
        self._settle = settle_seconds
        self._task: asyncio.Task[None] | None = None

    async def restore(self) -> None:
        async with self._unit_of_work() as uow:
            totals = await uow.usage.spend_totals(month_start(self._clock.now()))
        await self._admission.restore(totals)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if not await self._admission.seeded():
                    # requests finished before the wipe may still be in a writer's buffer
                    await asyncio.sleep(self._settle)
                    await self.restore()
                    _log.warning("counters were wiped: spend restored from stored usage")
            except CountersUnavailable:
                continue  # down: readiness says so; try again at the next tick
