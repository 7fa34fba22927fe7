"""Chat and text completions: the request pipeline, top to bottom.

    authenticate (done at the edge) -> route -> check features -> inline images (``images.py``)
    -> context window -> admit -> guard -> call backend -> meter

Admission reserves the request's worst case against every limit before an engine is involved; metering
settles that reservation to the actual usage in a ``finally``, so a client that disconnects mid-stream is
charged for what was generated, an engine failure releases the reservation, and the engine's work is
cancelled. Guarding (prompt injection, ``guarding.py``) runs right after admission, so a blocked
request still counts against the caller's request rate, and before any engine sees the text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from llmaas.domain.errors import InvalidRequest, PromptInjectionDetected
from llmaas.domain.guardrails import Verdict
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.domain.quotas import Demand, RateLimitStatus
from llmaas.domain.usage import Outcome
from llmaas.openai_schema.backend import BackendInfo
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
from llmaas.services.context_window import check_chat_window, check_completion_window
from llmaas.services.demand import chat_demand, completion_demand
from llmaas.services.failover import Attempts, aclose_stream
from llmaas.services.fleet import Deployment
from llmaas.services.guarding import Guarding, ScannedText, chat_texts, completion_texts
from llmaas.services.images import ImageInliner, ImageLimits
from llmaas.services.metering import Meter, Metering
from llmaas.services.routing import Route, Router, require


@dataclass(slots=True)
class RequestContext:
    principal: Principal
    request_id: str
    body_bytes: int = 0
    """Size of the request body: bounds the prompt's tokens for admission (see ``demand.py``)."""
    rate_limits: RateLimitStatus | None = None
    """Set by admission, for the response's ``x-ratelimit-*`` headers."""
    route: Route | None = None
    """Set by routing: the edge turns a deprecation into ``Deprecation``/``Sunset`` headers."""
    deployment: DeploymentSpec | None = None
    """What served the request, for the ``x-llmaas-backend`` header."""
    guard: Verdict | None = None
    """Set by guarding: a flagged request's ``x-llmaas-guardrail`` header."""

    def served_by(self, deployment: Deployment) -> BackendInfo:
        self.deployment = deployment.spec
        return backend_info(deployment.spec)


def backend_info(spec: DeploymentSpec) -> BackendInfo:
    return BackendInfo(engine_type=spec.engine, machine_name=spec.machine_name)


class StreamChunk(Protocol):
    """What chat chunks and text completion chunks have in common, as far as relaying goes."""

    model: str
    usage: CompletionUsage | None
    backend: BackendInfo | None

    @property
    def choices(self) -> Sequence[object]: ...


Chunk = TypeVar("Chunk", bound=StreamChunk)
Response = TypeVar("Response", ChatCompletion, Completion)


class CompletionsService:
    def __init__(
        self,
        router: Router,
        metering: Metering,
        attempts: Attempts,
        images: ImageInliner | None = None,
        guarding: Guarding | None = None,
    ) -> None:
        self._router = router
        self._metering = metering
        self._attempts = attempts
        self._images = images if images is not None else ImageInliner(ImageLimits())
        self._guarding = guarding

    def _route(self, ctx: RequestContext, name: str, capability: Capability) -> Route:
        ctx.route = self._router.resolve(ctx.principal, name, capability)
        return ctx.route

    async def chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletion:
        route = self._route(ctx, request.model, Capability.CHAT)
        check_chat_features(route.model, request)
        request, images = await self._images.inline(request)
        await check_chat_window(route, request, images)
        meter = await self._admit(
            ctx,
            route,
            "chat.completions",
            chat_demand(route.model, request, ctx.body_bytes, images),
        )
        await self._guard(ctx, meter, chat_texts(request))
        return await self._call(ctx, meter, route, lambda b: b.chat(request))

    async def chat_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Returns once the first chunk is in hand, so routing and engine errors are still HTTP errors."""
        route = self._route(ctx, request.model, Capability.CHAT)
        check_chat_features(route.model, request)
        request, images = await self._images.inline(request)
        await check_chat_window(route, request, images)
        meter = await self._admit(
            ctx,
            route,
            "chat.completions",
            chat_demand(route.model, request, ctx.body_bytes, images),
            streamed=True,
        )
        await self._guard(ctx, meter, chat_texts(request))
        upstream = request.model_copy(
            update={"stream_options": _with_usage(request.stream_options)}
        )
        return await self._stream(
            ctx,
            meter,
            route,
            lambda b: b.chat_stream(upstream),
            client_wants_usage=request.wants_stream_usage,
            has_output=_chat_chunk_has_output,
        )

    async def complete(self, ctx: RequestContext, request: CompletionRequest) -> Completion:
        route = self._route(ctx, request.model, Capability.COMPLETIONS)
        check_completion_features(request)
        await check_completion_window(route, request)
        meter = await self._admit(
            ctx, route, "completions", completion_demand(route.model, request, ctx.body_bytes)
        )
        await self._guard(ctx, meter, completion_texts(request))
        return await self._call(ctx, meter, route, lambda b: b.complete(request))

    async def complete_stream(
        self, ctx: RequestContext, request: CompletionRequest
    ) -> AsyncGenerator[Completion, None]:
        route = self._route(ctx, request.model, Capability.COMPLETIONS)
        check_completion_features(request)
        await check_completion_window(route, request)
        meter = await self._admit(
            ctx,
            route,
            "completions",
            completion_demand(route.model, request, ctx.body_bytes),
            streamed=True,
        )
        await self._guard(ctx, meter, completion_texts(request))
        upstream = request.model_copy(
            update={"stream_options": _with_usage(request.stream_options)}
        )
        return await self._stream(
            ctx,
            meter,
            route,
            lambda b: b.complete_stream(upstream),
            client_wants_usage=request.wants_stream_usage,
            has_output=_completion_chunk_has_output,
        )

    async def _admit(
        self,
        ctx: RequestContext,
        route: Route,
        endpoint: str,
        demand: Demand,
        *,
        streamed: bool = False,
    ) -> Meter:
        meter = await self._metering.admit(
            ctx.principal, ctx.request_id, route.model, endpoint, demand, streamed=streamed
        )
        ctx.rate_limits = meter.reservation.status
        return meter

    async def _guard(self, ctx: RequestContext, meter: Meter, texts: Sequence[ScannedText]) -> None:
        """A blocked request is settled at once: its reservation released, its refusal recorded."""
        if self._guarding is None:
            return
        try:
            ctx.guard = await self._guarding.inspect(ctx.principal, texts)
        except PromptInjectionDetected:
            meter.outcome = Outcome.BLOCKED
            meter.finish()
            raise
        except BaseException:
            meter.finish()
            raise

    async def _call(
        self,
        ctx: RequestContext,
        meter: Meter,
        route: Route,
        call: Callable[[InferenceBackend], Awaitable[Response]],
    ) -> Response:
        try:
            response, deployment = await self._attempts.call(route, call)
            meter.deployment = deployment.name
            response.model = route.model.id
            response.backend = ctx.served_by(deployment)
            if response.usage is not None:
                meter.usage = response.usage.to_domain()
            meter.outcome = Outcome.OK
            return response
        finally:
            meter.finish()

    async def _stream(
        self,
        ctx: RequestContext,
        meter: Meter,
        route: Route,
        start: Callable[[InferenceBackend], AsyncIterator[Chunk]],
        *,
        client_wants_usage: bool,
        has_output: Callable[[Chunk], bool],
    ) -> AsyncGenerator[Chunk, None]:
        try:
            opened = await self._attempts.open_stream(route, start)
        except BaseException:
            meter.finish()
            raise
        meter.deployment = opened.deployment.name
        relay = _Relay(
            meter,
            ctx.served_by(opened.deployment),
            client_wants_usage,
            has_output,
            self._attempts,
            opened.deployment,
        )
        return relay.run(opened.first, opened.rest)


@dataclass(slots=True)
class _Relay(Generic[Chunk]):
    """Relays an engine's chunks to the client, metering as they pass; at the end, whatever ended
    it, settles the meter and gives the deployment its verdict."""

    meter: Meter
    backend: BackendInfo
    client_wants_usage: bool
    has_output: Callable[[Chunk], bool]
    attempts: Attempts
    deployment: Deployment

    async def run(
        self, first: Chunk | None, rest: AsyncIterator[Chunk]
    ) -> AsyncGenerator[Chunk, None]:
        meter = self.meter
        error: BaseException | None = None
        try:
            chunk = first
            while chunk is not None:
                chunk.model = meter.model.id
                if _relay_usage(chunk, meter, self.client_wants_usage):
                    if self.has_output(chunk):
                        meter.streamed_chunks += 1
                        meter.output_started()
                    if chunk.usage is not None or _finishes(chunk):
                        chunk.backend = self.backend  # the final chunk names what served it
                    yield chunk
                chunk = await anext(rest, None)
            meter.outcome = Outcome.OK
        except (GeneratorExit, asyncio.CancelledError) as stopped:
            meter.outcome = Outcome.CLIENT_DISCONNECTED
            error = stopped
            raise
        except BaseException as failure:
            error = failure
            raise
        finally:
            await aclose_stream(rest)
            meter.finish()
            self.attempts.finished(self.deployment, error)


def _finishes(chunk: StreamChunk) -> bool:
    return any(getattr(choice, "finish_reason", None) for choice in chunk.choices)


def _relay_usage(chunk: StreamChunk, meter: Meter, client_wants_usage: bool) -> bool:
    """Meter any usage a chunk carries; show the client only the final usage chunk, and only when
    it asked for it. Returns whether the chunk is still worth sending."""
    if chunk.usage is not None:
        meter.usage = chunk.usage.to_domain()
        if chunk.choices or not client_wants_usage:
            chunk.usage = None
    return bool(chunk.choices) or chunk.usage is not None


def _with_usage(options: StreamOptions | None) -> StreamOptions:
    """Always ask the engine for usage (metering needs it even when the client does not), keeping
    any engine-specific stream options the client set (vLLM's ``continuous_usage_stats``...)."""
    return (options or StreamOptions()).model_copy(update={"include_usage": True})


def _chat_chunk_has_output(chunk: ChatCompletionChunk) -> bool:
    return any(choice.delta.content or choice.delta.tool_calls for choice in chunk.choices)


def _completion_chunk_has_output(chunk: Completion) -> bool:
    return any(choice.text for choice in chunk.choices)


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
