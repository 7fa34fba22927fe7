"""Chat and text completions: the request pipeline, top to bottom.

    authenticate (done at the edge) -> check features -> route -> call backend -> meter

Admission (quotas, budgets) and guarding (prompt injection) slot in between authentication and routing
when they land. Streaming responses are metered in a ``finally``: a client that disconnects mid-stream is
still recorded with what was generated, and the engine's work is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from llmaas.domain.errors import InvalidRequest
from llmaas.domain.models import Capability, ServedModel
from llmaas.domain.principals import Principal
from llmaas.domain.usage import Outcome, TokenUsage, UsageEvent
from llmaas.openai_schema.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ImageUrlPart,
    InputAudioPart,
    NamedToolChoice,
)
from llmaas.openai_schema.completions import Completion, CompletionRequest
from llmaas.openai_schema.generation import StreamOptions
from llmaas.openai_schema.usage import CompletionUsage
from llmaas.ports.backends import InferenceBackend
from llmaas.ports.clock import Clock
from llmaas.ports.usage import UsageRecorder
from llmaas.services.routing import Route, Router, require
from llmaas.services.streaming import aclose_stream, call_first_available, open_first_available


@dataclass(frozen=True, slots=True)
class RequestContext:
    principal: Principal
    request_id: str


class StreamChunk(Protocol):
    """What chat chunks and text completion chunks have in common, as far as relaying goes."""

    model: str
    usage: CompletionUsage | None

    @property
    def choices(self) -> Sequence[object]: ...


Chunk = TypeVar("Chunk", bound=StreamChunk)
Response = TypeVar("Response", ChatCompletion, Completion)


class CompletionsService:
    def __init__(self, router: Router, recorder: UsageRecorder, clock: Clock) -> None:
        self._router = router
        self._recorder = recorder
        self._clock = clock

    async def chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletion:
        route = self._router.resolve(ctx.principal, request.model, Capability.CHAT)
        check_chat_features(route.model, request)
        return await self._call(ctx, route, "chat.completions", lambda b: b.chat(request))

    async def chat_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Returns once the first chunk is in hand, so routing and engine errors are still HTTP errors."""
        route = self._router.resolve(ctx.principal, request.model, Capability.CHAT)
        check_chat_features(route.model, request)
        upstream = request.model_copy(
            update={"stream_options": _with_usage(request.stream_options)}
        )
        return await self._stream(
            ctx,
            route,
            "chat.completions",
            lambda b: b.chat_stream(upstream),
            client_wants_usage=request.wants_stream_usage,
            has_output=_chat_chunk_has_output,
        )

    async def complete(self, ctx: RequestContext, request: CompletionRequest) -> Completion:
        route = self._router.resolve(ctx.principal, request.model, Capability.COMPLETIONS)
        check_completion_features(request)
        return await self._call(ctx, route, "completions", lambda b: b.complete(request))

    async def complete_stream(
        self, ctx: RequestContext, request: CompletionRequest
    ) -> AsyncGenerator[Completion, None]:
        route = self._router.resolve(ctx.principal, request.model, Capability.COMPLETIONS)
        check_completion_features(request)
        upstream = request.model_copy(
            update={"stream_options": _with_usage(request.stream_options)}
        )
        return await self._stream(
            ctx,
            route,
            "completions",
            lambda b: b.complete_stream(upstream),
            client_wants_usage=request.wants_stream_usage,
            has_output=_completion_chunk_has_output,
        )

    async def _call(
        self,
        ctx: RequestContext,
        route: Route,
        endpoint: str,
        call: Callable[[InferenceBackend], Awaitable[Response]],
    ) -> Response:
        meter = _Meter(self._recorder, self._clock, ctx, route, endpoint, streamed=False)
        try:
            response, backend = await call_first_available(route, call)
            meter.deployment = backend.name
            response.model = route.model.id
            if response.usage is not None:
                meter.usage = response.usage.to_domain()
            meter.outcome = Outcome.OK
            return response
        finally:
            meter.record()

    async def _stream(
        self,
        ctx: RequestContext,
        route: Route,
        endpoint: str,
        start: Callable[[InferenceBackend], AsyncIterator[Chunk]],
        *,
        client_wants_usage: bool,
        has_output: Callable[[Chunk], bool],
    ) -> AsyncGenerator[Chunk, None]:
        meter = _Meter(self._recorder, self._clock, ctx, route, endpoint, streamed=True)
        try:
            opened = await open_first_available(route, start)
        except BaseException:
            meter.record()
            raise
        meter.deployment = opened.backend.name
        return _relay(opened.first, opened.rest, meter, client_wants_usage, has_output)


async def _relay(
    first: Chunk | None,
    rest: AsyncIterator[Chunk],
    meter: _Meter,
    client_wants_usage: bool,
    has_output: Callable[[Chunk], bool],
) -> AsyncGenerator[Chunk, None]:
    try:
        chunk = first
        while chunk is not None:
            chunk.model = meter.route.model.id
            if chunk.usage is not None:
                meter.usage = chunk.usage.to_domain()
                if not client_wants_usage:
                    chunk.usage = None
            if has_output(chunk):
                meter.streamed_chunks += 1
            if chunk.choices or chunk.usage is not None:
                yield chunk
            chunk = await anext(rest, None)
        meter.outcome = Outcome.OK
    except (GeneratorExit, asyncio.CancelledError):
        meter.outcome = Outcome.CLIENT_DISCONNECTED
        raise
    finally:
        await aclose_stream(rest)
        meter.record()


def _with_usage(options: StreamOptions | None) -> StreamOptions:
    """Always ask the engine for usage (metering needs it even when the client does not), keeping
    any engine-specific stream options the client set (vLLM's ``continuous_usage_stats``...)."""
    return (options or StreamOptions()).model_copy(update={"include_usage": True})


def _chat_chunk_has_output(chunk: ChatCompletionChunk) -> bool:
    return any(choice.delta.content or choice.delta.tool_calls for choice in chunk.choices)


def _completion_chunk_has_output(chunk: Completion) -> bool:
    return any(choice.text for choice in chunk.choices)


class _Meter:
    """Collects one request's metering facts and records them exactly once."""

    def __init__(
        self,
        recorder: UsageRecorder,
        clock: Clock,
        ctx: RequestContext,
        route: Route,
        endpoint: str,
        *,
        streamed: bool,
    ) -> None:
        self._recorder = recorder
        self._clock = clock
        self._started = clock.monotonic()
        self._recorded = False
        self.ctx = ctx
        self.route = route
        self.endpoint = endpoint
        self.streamed = streamed
        self.deployment = ""
        self.usage: TokenUsage | None = None
        self.streamed_chunks = 0
        self.outcome = Outcome.FAILED

    def record(self) -> None:
        if self._recorded:
            return
        self._recorded = True
        # An engine that never reported usage (or a client gone before the final chunk): count what
        # was streamed, one token per content chunk, rather than record nothing.
        usage = self.usage or TokenUsage(completion_tokens=self.streamed_chunks)
        self._recorder.record(
            UsageEvent(
                request_id=self.ctx.request_id,
                key_id=self.ctx.principal.key_id,
                model=self.route.model.id,
                deployment=self.deployment,
                endpoint=self.endpoint,
                usage=usage,
                latency_ms=(self._clock.monotonic() - self._started) * 1000,
                outcome=self.outcome,
                streamed=self.streamed,
            )
        )


def check_chat_features(model: ServedModel, request: ChatCompletionRequest) -> None:
    """Refuse, before any engine is involved, what this model cannot do."""
    _check_tools(model, request)
    if request.response_format is not None and request.response_format.type != "text":
        require(model, Capability.JSON_OUTPUT, param="response_format")
    for index, message in enumerate(request.messages):
        if isinstance(message.content, list):
            for part in message.content:
                if isinstance(part, ImageUrlPart):
                    require(model, Capability.VISION, param=f"messages[{index}].content")
                if isinstance(part, InputAudioPart):
                    raise InvalidRequest(
                        f"The model '{model.id}' does not accept audio input; "
                        "use /v1/audio/transcriptions.",
                        param=f"messages[{index}].content",
                        code="unsupported_capability",
                    )
    if request.top_logprobs and not request.logprobs:
        raise InvalidRequest("'top_logprobs' requires 'logprobs' to be true.", param="top_logprobs")


def _check_tools(model: ServedModel, request: ChatCompletionRequest) -> None:
    choice = request.tool_choice
    if choice is not None and not request.tools:
        raise InvalidRequest(
            "'tool_choice' is only allowed when 'tools' are specified.", param="tool_choice"
        )
    if not request.tools or choice == "none":
        return
    require(model, Capability.TOOLS, param="tools")
    if isinstance(choice, NamedToolChoice):
        names = {tool.function.name for tool in request.tools}
        if choice.function.name not in names:
            raise InvalidRequest(
                "'tool_choice' names a function that is not in 'tools'.", param="tool_choice"
            )


def check_completion_features(request: CompletionRequest) -> None:
    if request.best_of is not None and request.best_of < (request.n or 1):
        raise InvalidRequest("'best_of' must be greater than or equal to 'n'.", param="best_of")
    if request.stream and request.best_of is not None and request.best_of > 1:
        raise InvalidRequest("'best_of' cannot be used with 'stream'.", param="best_of")
