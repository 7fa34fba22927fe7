"""Stage 6 of the pipeline: price what a request consumed, settle its reservation, record its usage.

A :class:`Meter` follows one request and finishes exactly once, from the request's ``finally``: a
success, a failure and a client that went away mid-stream all end up settled and recorded. The usage
event leaves the request path through the recorder's in-memory queue (see ``usage_writer.py``).
"""

from __future__ import annotations

from llmaas.domain.models import ServedModel
from llmaas.domain.pricing import Prices
from llmaas.domain.principals import Principal
from llmaas.domain.quotas import Consumption, Demand
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.ports.clock import Clock
from llmaas.ports.usage import UsageRecorder
from llmaas.services.admission import Admission, Reservation

RERANK = "rerank"
"""The endpoint whose tokens are priced at the model's rerank rate."""


def price(prices: Prices, endpoint: str, usage: TokenUsage) -> int:
    """Reranking is sold at its own per-token rate: a scored pair is neither a prompt nor output."""
    if endpoint == RERANK:
        return prices.rerank_cost(usage.total_tokens)
    return prices.tokens_cost(usage)


class Metering:
    def __init__(self, admission: Admission, recorder: UsageRecorder, clock: Clock) -> None:
        self.admission = admission
        self.recorder = recorder
        self.clock = clock

    async def admit(
        self,
        principal: Principal,
        request_id: str,
        model: ServedModel,
        endpoint: str,
        demand: Demand,
        *,
        streamed: bool = False,
    ) -> Meter:
        """Stage 2 and the start of stage 6 together: reserve the worst case (or raise the 429),
        then follow the request with a meter that settles that reservation."""
        reservation = await self.admission.admit(principal, request_id, demand)
        return Meter(self, principal, request_id, model, endpoint, reservation, streamed=streamed)


class Meter:
    """Collects one request's metering facts and finishes exactly once."""

    def __init__(
        self,
        metering: Metering,
        principal: Principal,
        request_id: str,
        model: ServedModel,
        endpoint: str,
        reservation: Reservation,
        *,
        streamed: bool,
    ) -> None:
        self._metering = metering
        self._started = metering.clock.monotonic()
        self._first_output: float | None = None
        self._finished = False
        self.principal = principal
        self.request_id = request_id
        self.model = model
        self.endpoint = endpoint
        self.reservation = reservation
        self.streamed = streamed
        self.deployment = ""
        self.usage: TokenUsage | None = None
        self.audio_ms = 0
        """Audio heard, for speech endpoints: billed per started minute (see ``domain/pricing.py``)."""
        self.streamed_chunks = 0
        self.outcome = Outcome.FAILED

    def output_started(self) -> None:
        if self._first_output is None:
            self._first_output = self._metering.clock.monotonic()

    def finish(self) -> None:
        """Settle and record, once: the pipeline calls this from ``finally`` blocks."""
        if self._finished:
            return
        self._finished = True
        usage = self._consumed()
        audio_ms = self._audio_consumed()
        cost = price(self.model.prices, self.endpoint, usage) + self.model.prices.audio_cost(
            audio_ms
        )
        self._metering.admission.settle(
            self.reservation, Consumption(usage.prompt_tokens, usage.completion_tokens, cost)
        )
        self._metering.recorder.record(self._event(usage, cost, audio_ms))

    def _audio_consumed(self) -> int:
        """Audio is charged once recognition ran on it: a file refused as undecodable, or a failure
        before any text reached the client, costs nothing."""
        if self.outcome is Outcome.FAILED and self.streamed_chunks == 0:
            return 0
        return self.audio_ms

    def _consumed(self) -> TokenUsage:
        usage = self.usage
        if self.streamed_chunks == 0 and (self.outcome is Outcome.FAILED or usage is None):
            # The engine failed before any output, or nothing is known to have been generated:
            # the reservation is released entirely.
            return TokenUsage()
        if usage is not None:
            # Every streamed content chunk holds at least one token: a stream cut short (client
            # gone, engine failed) is charged for what was generated even if the engine's last
            # count came earlier.
            if usage.completion_tokens >= self.streamed_chunks:
                return usage
            return TokenUsage(usage.prompt_tokens, self.streamed_chunks, usage.reasoning_tokens)
        # An engine that never counted: the prompt at a quarter of its (byte) bound.
        prompt = (self.reservation.demand.prompt_tokens + 3) // 4
        return TokenUsage(prompt_tokens=prompt, completion_tokens=self.streamed_chunks)

    def _event(self, usage: TokenUsage, cost: int, audio_ms: int) -> UsageEvent:
        clock = self._metering.clock
        ended = clock.monotonic()
        first = self._first_output
        return UsageEvent(
            request_id=self.request_id,
            key_id=self.principal.key_id,
            organization_id=self.principal.organization_id,
            model=self.model.id,
            deployment=self.deployment,
            endpoint=self.endpoint,
            usage=usage,
            cost_micros=cost,
            audio_ms=audio_ms,
            latency_ms=(ended - self._started) * 1000,
            time_to_first_token_ms=(first - self._started) * 1000 if first is not None else None,
            outcome=self.outcome,
            streamed=self.streamed,
            occurred_at=clock.now(),
        )
