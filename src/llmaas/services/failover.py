"""Calling a route's deployments: failover before the first byte, and the bookkeeping around it.

A deployment that cannot take the request (unreachable, a server error, pushed back with 429) is
skipped for the next candidate, as long as nothing has reached the client: for a stream that means
until its first chunk is in hand. A timeout is not retried (the client's time is spent), and a
request the engine rejects as invalid would be rejected by every deployment. Each attempt counts in
the deployment's outstanding requests (the router's load signal) and feeds its circuit breaker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from llmaas.domain.errors import (
    BackendUnavailable,
    LlmaasError,
    NoCompliantDeployment,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from llmaas.ports.backends import InferenceBackend
from llmaas.ports.clock import Clock
from llmaas.services.fleet import Deployment
from llmaas.services.routing import Route

T = TypeVar("T")
C = TypeVar("C")

_RETRYABLE = (BackendUnavailable, UpstreamFailed, UpstreamRateLimited)
"""Failures after which another deployment may well succeed."""


def deployment_failed(error: BaseException) -> bool:
    """Whether the error says something is wrong with the deployment (for its circuit breaker)."""
    return isinstance(error, BackendUnavailable | UpstreamFailed | UpstreamTimeout)


class Attempts:
    """Walks a route's candidates; ``clock`` times the circuit breakers."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def call(
        self,
        route: Route,
        call: Callable[[InferenceBackend], Awaitable[T]],
        *,
        hold: bool = False,
    ) -> tuple[T, Deployment]:
        """The first result any candidate gives. With ``hold``, the deployment that gave it keeps
        the request counted as outstanding until the caller calls ``finished`` (a stream)."""
        last_error: LlmaasError | None = None
        for deployment in route:
            self.started(deployment)
            try:
                result = await call(deployment.backend)
            except _RETRYABLE as error:
                self.finished(deployment, error)
                last_error = error
                continue
            except BaseException as error:
                self.finished(deployment, error)
                raise
            if not hold:
                self.finished(deployment)
            return result, deployment
        if route.policy is not None and isinstance(last_error, BackendUnavailable):
            # Every compliant deployment turned out to be down: say so, as the router would have
            # if its health verdicts had been current (the others were never candidates).
            raise NoCompliantDeployment(
                f"No deployment of '{route.model.id}' that meets your organization's data policy "
                f"({route.policy.describe()}) is reachable right now."
            ) from last_error
        raise last_error or BackendUnavailable(
            f"No deployment of the model '{route.model.id}' is available right now."
        )

    def started(self, deployment: Deployment) -> None:
        deployment.outstanding += 1
        deployment.breaker.on_attempt(self._clock.monotonic())

    def finished(self, deployment: Deployment, error: BaseException | None = None) -> None:
        deployment.outstanding -= 1
        if error is None:
            deployment.served += 1
            deployment.breaker.on_success()
        elif deployment_failed(error):
            deployment.breaker.on_failure(self._clock.monotonic())
            if isinstance(error, BackendUnavailable):
                deployment.mark_down()
        elif isinstance(error, LlmaasError):
            deployment.breaker.on_success()  # it answered: the request was at fault, not it
        else:
            deployment.breaker.on_abandon()  # cancelled: no verdict

    async def open_stream(
        self, route: Route, start: Callable[[InferenceBackend], AsyncIterator[C]]
    ) -> OpenedStream[C]:
        """Open the stream and wait for its first chunk, so that an engine that is down or refuses
        the request still produces a proper HTTP error instead of a broken ``200`` stream."""

        async def first_chunk(backend: InferenceBackend) -> tuple[C | None, AsyncIterator[C]]:
            stream = start(backend)
            try:
                return await anext(stream), stream
            except StopAsyncIteration:
                return None, stream
            except BaseException:
                await aclose_stream(stream)
                raise

        (first, rest), deployment = await self.call(route, first_chunk, hold=True)
        return OpenedStream(first=first, rest=rest, deployment=deployment)


@dataclass(slots=True)
class OpenedStream(Generic[C]):
    first: C | None
    rest: AsyncIterator[C]
    deployment: Deployment
    """Still counts this stream as outstanding: ``Attempts.finished`` must be called at its end."""


async def aclose_stream(stream: AsyncIterator[object]) -> None:
    """Close an abandoned stream now (not at garbage collection), which cancels the engine's work."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
