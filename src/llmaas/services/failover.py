"""What chat and text completion streams share: failover before the first byte, and metering after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from llmaas.domain.errors import BackendUnavailable
from llmaas.ports.backends import InferenceBackend
from llmaas.services.routing import Route

T = TypeVar("T")
C = TypeVar("C")


async def call_first_available(
    route: Route, call: Callable[[InferenceBackend], Awaitable[T]]
) -> tuple[T, InferenceBackend]:
    """Try each candidate deployment in turn; only an unavailable one is skipped."""
    last_error: BackendUnavailable | None = None
    for backend in route.candidates:
        try:
            return await call(backend), backend
        except BackendUnavailable as error:
            last_error = error
    raise last_error or BackendUnavailable(
        f"No deployment of the model '{route.model.id}' is available right now."
    )


@dataclass(slots=True)
class OpenedStream(Generic[C]):
    first: C | None
    rest: AsyncIterator[C]
    backend: InferenceBackend


async def open_first_available(
    route: Route, start: Callable[[InferenceBackend], AsyncIterator[C]]
) -> OpenedStream[C]:
    """Open the stream and wait for its first chunk, so that an engine that is down or refuses the
    request still produces a proper HTTP error instead of a broken ``200`` stream."""

    async def first_chunk(backend: InferenceBackend) -> tuple[C | None, AsyncIterator[C]]:
        stream = start(backend)
        try:
            return await anext(stream), stream
        except StopAsyncIteration:
            return None, stream
        except BaseException:
            await aclose_stream(stream)
            raise

    (first, rest), backend = await call_first_available(route, first_chunk)
    return OpenedStream(first=first, rest=rest, backend=backend)


async def aclose_stream(stream: AsyncIterator[object]) -> None:
    """Close an abandoned stream now (not at garbage collection), which cancels the engine's work."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
