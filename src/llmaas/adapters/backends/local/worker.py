"""Running blocking inference on a dedicated thread while the event loop stays free.

A llama.cpp context is not thread-safe, so each model gets one worker thread and requests queue for it.
A streaming job hands its results to the loop one by one; when the consumer goes away (client
disconnect), the job sees ``cancelled`` at its next token and stops, freeing the model for the next one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")
Emit = Callable[[Any], None]


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = _End()


class ModelWorker:
    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"engine-{name}")

    async def run(self, job: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    async def stream(
        self, job: Callable[[Emit, threading.Event], None]
    ) -> AsyncGenerator[Any, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def put(item: Any) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                if not cancelled.is_set():  # the consumer may be gone before the job starts
                    job(put, cancelled)
            except BaseException as error:  # noqa: BLE001 - handed to the consumer, re-raised there
                put(_Failed(error))
            finally:
                put(_END)

        loop.run_in_executor(self._executor, run)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item
        finally:
            cancelled.set()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
