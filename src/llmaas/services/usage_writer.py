"""Usage records leave the request path through a buffer that is written in batches.

A request only appends its event to an in-memory buffer (no I/O, no lock, microseconds); a background
task stores the buffer every ``interval`` seconds or as soon as ``batch_size`` events are waiting, in
one transaction per batch (raw records plus their rollups). A failed write keeps the events for the
next attempt. On shutdown :meth:`close` writes whatever is left, so a graceful stop (SIGTERM) loses no
record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence

from llmaas.domain.usage import UsageEvent
from llmaas.observability.logging import failure
from llmaas.ports.repositories import UnitOfWorkFactory
from llmaas.ports.usage import UsageObserver

_log = logging.getLogger("llmaas.usage")


class UsageWriter:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        observers: Sequence[UsageObserver] = (),
        batch_size: int = 500,
        interval: float = 1.0,
        max_buffered: int = 200_000,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._observers = tuple(observers)
        self._batch_size = batch_size
        self._interval = interval
        self._max_buffered = max_buffered
        self._buffer: deque[UsageEvent] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0

    def record(self, event: UsageEvent) -> None:
        if len(self._buffer) >= self._max_buffered:
            # The database has been down for long: bound memory, and say how much was lost.
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the background task and write everything still buffered."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        for _ in range(3):
            if not self._buffer or await self.flush():
                break
            await asyncio.sleep(0.5)
        if self._buffer:
            _log.error("usage records lost at shutdown", extra={"count": len(self._buffer)})

    async def flush(self) -> bool:
        """Write the buffered events; ``False`` when storage failed (they stay buffered)."""
        while self._buffer:
            batch = [
                self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))
            ]
            try:
                async with self._unit_of_work() as uow:
                    await uow.usage.add_batch(batch)
                    await uow.commit()
            except Exception as error:  # noqa: BLE001 - keep the events and retry later
                self._buffer.extendleft(reversed(batch))
                _log.error("usage write failed", extra={"count": len(batch), **failure(error)})
                return False
            # Metrics and log lines cost a few microseconds per event: off the event loop, so a
            # batch never adds milliseconds to the requests being served meanwhile.
            await asyncio.to_thread(self._notify, batch)
        return True

    def _notify(self, batch: Sequence[UsageEvent]) -> None:
        for observer in self._observers:
            try:
                observer.observe(batch)
            except Exception as error:  # noqa: BLE001 - metrics must never stop metering
                _log.error("usage observer failed", extra=failure(error))

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            if not await self.flush():
                await asyncio.sleep(self._interval)
