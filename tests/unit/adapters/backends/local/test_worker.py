"""The model worker: one job at a time, and jobs whose consumer left are never started."""

from __future__ import annotations

import asyncio
import threading

import pytest

from llmaas.adapters.backends.local.worker import Emit, ModelWorker


async def test_a_stream_abandoned_before_its_turn_never_runs() -> None:
    worker = ModelWorker("test")
    release = threading.Event()
    ran: list[str] = []

    def blocking(emit: Emit, cancelled: threading.Event) -> None:
        ran.append("first")
        emit("started")
        release.wait(5)

    def second(emit: Emit, cancelled: threading.Event) -> None:
        ran.append("second")

    first = worker.stream(blocking)
    assert await anext(first) == "started"
    abandoned = worker.stream(second)
    pending = asyncio.ensure_future(anext(abandoned, None))
    await asyncio.sleep(0.05)
    pending.cancel()  # the client left while its job was queued
    await asyncio.gather(pending, return_exceptions=True)
    await abandoned.aclose()
    release.set()
    assert [item async for item in first] == []
    await asyncio.sleep(0.05)
    worker.shutdown()
    assert ran == ["first"]


async def test_errors_in_the_job_reach_the_consumer() -> None:
    worker = ModelWorker("test")

    def failing(emit: Emit, cancelled: threading.Event) -> None:
        emit(1)
        raise RuntimeError("boom")

    received: list[object] = []

    async def consume() -> None:
        async for item in worker.stream(failing):
            received.append(item)

    try:
        with pytest.raises(RuntimeError, match="boom"):
            await consume()
    finally:
        worker.shutdown()
    assert received == [1]
