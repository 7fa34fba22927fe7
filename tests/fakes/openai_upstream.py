"""A fake OpenAI-compatible inference engine (think vLLM) on a real socket, for adapter tests.

``async with FakeUpstream(Scenario(...)) as upstream:`` serves ``upstream.base_url`` on 127.0.0.1 with an
ephemeral port (over TLS, ``https``, when given an ``ssl_context``). The :class:`Scenario` decides how
it behaves (it may be swapped between requests); what it received is kept in ``upstream.requests``, and
``upstream.disconnected`` is set when a client goes away while a response is still being produced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

CREATED = 1_700_000_000
MALFORMED = b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": ['

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class HttpError:
    """A canned non-200 answer, returned by every endpoint."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def openai_error(
    status: int,
    message: str,
    *,
    type_: str = "server_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpError:
    error = {"message": message, "type": type_, "param": param, "code": code}
    return HttpError(status, json.dumps({"error": error}).encode(), headers or {})


def rate_limited(retry_after: str) -> HttpError:
    return openai_error(
        429, "Too many requests", type_="rate_limit_error", headers={"Retry-After": retry_after}
    )


def context_length_exceeded() -> HttpError:
    message = (
        "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
        "(4000 in the messages, 1000 in the completion). Please reduce the length of the messages."
    )
    return openai_error(400, message, type_="invalid_request_error", param="messages")


@dataclass(slots=True)
class Scenario:
    chunks: Sequence[str] = ("Hel", "lo", ", ", "world")
    """Content pieces: one SSE event each when streaming, joined into one answer otherwise."""
    prompt_tokens: int = 9
    honour_stream_options: bool = True
    """False: ignore ``stream_options.include_usage`` and never send a usage chunk."""
    error: HttpError | None = None
    stall_before_headers: float = 0.0
    chunk_interval: float = 0.0
    """Pause between two stream events (a long one is a stall mid-stream)."""
    gate: asyncio.Event | None = None
    """Send the first stream event, then wait for this event before sending the rest."""
    drop_after: int | None = None
    """Abort the TCP connection after this many content events (no end of body, no ``[DONE]``)."""
    malformed: bytes | None = None
    """Sent instead of valid JSON: as the whole body, or as the event after the first one."""
    embedding: Sequence[float] = (0.25, -0.5, 1.0)
    reverse_embeddings: bool = False
    """List embeddings in reverse order (each still carries its ``index``)."""
    rerank_usage: bool = True
    """Report ``usage.total_tokens`` in Cohere-shaped rerank answers (vLLM does)."""
    rerank_skip: int | None = None
    """Leave this document out of rerank answers (a broken engine)."""


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: CIMultiDict[str]
    body: Json


class FakeUpstream:
    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        model: str = "fake-model",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.scenario = scenario or Scenario()
        self.model = model
        self._ssl_context = ssl_context
        self.requests: list[Received] = []
        self.disconnected = asyncio.Event()
        self.streams_completed = 0
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}/v1"

    @property
    def last(self) -> Received:
        return self.requests[-1]

    async def __aenter__(self) -> FakeUpstream:
        app = web.Application(middlewares=[self._observe])
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/rerank", self._rerank_cohere)  # vLLM
        app.router.add_post("/rerank", self._rerank_tei)  # Text Embeddings Inference
        # handler_cancellation: a client that goes away cancels its handler, which is how we see it.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (asyncio.CancelledError, ConnectionResetError):
            if not self._closing.is_set():  # not our own shutdown: the client went away
                self.disconnected.set()
            raise

    # --- endpoints ----------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._receive(request)
        if failure := await self._failure():
            return failure
        model = {"id": self.model, "object": "model", "created": CREATED, "owned_by": "fake"}
        return web.json_response({"object": "list", "data": [model]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if failure := await self._failure():
            return failure
        chunk = _chunk_maker("chatcmpl-fake", "chat.completion.chunk", body["model"])

        def delta(content: Json, finish_reason: str | None) -> Json:
            return {"index": 0, "delta": content, "finish_reason": finish_reason}

        if body.get("stream"):
            return await self._stream(
                request,
                body,
                lambda piece: chunk(delta({"content": piece}, None)),
                chunk(delta({}, "stop")),
            )
        message = {"role": "assistant", "content": "".join(self.scenario.chunks)}
        answer = chunk({"index": 0, "message": message, "finish_reason": "stop", "logprobs": None})
        return self._json(answer | {"object": "chat.completion", "usage": self._usage()})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if failure := await self._failure():
            return failure
        chunk = _chunk_maker("cmpl-fake", "text_completion", body["model"])

        def choice(text: str, finish_reason: str | None) -> Json:
            return {"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}

        if body.get("stream"):
            return await self._stream(
                request, body, lambda piece: chunk(choice(piece, None)), chunk(choice("", "stop"))
            )
        answer = chunk(choice("".join(self.scenario.chunks), "stop"))
        return self._json(answer | {"usage": self._usage()})

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if failure := await self._failure():
            return failure
        inputs = body["input"]
        count = 1 if isinstance(inputs, str) or isinstance(inputs[0], int) else len(inputs)
        data = []
        for index in range(count):
            vector = [value * (index + 1) for value in self.scenario.embedding]
            encoded: list[float] | str = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        if self.scenario.reverse_embeddings:
            data.reverse()
        tokens = self.scenario.prompt_tokens
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return self._json({"object": "list", "data": data, "model": body["model"], "usage": usage})

    async def _rerank_cohere(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if failure := await self._failure():
            return failure
        scored = self._scored(body["query"], body["documents"])
        results = [{"index": i, "relevance_score": score} for i, score in scored]
        answer: Json = {"id": "rerank-fake", "model": body.get("model", self.model)}
        answer["results"] = results
        if self.scenario.rerank_usage:
            answer["usage"] = {"total_tokens": self.scenario.prompt_tokens}
        return self._json(answer)

    async def _rerank_tei(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if failure := await self._failure():
            return failure
        scored = self._scored(body["query"], body["texts"])
        return web.json_response([{"index": i, "score": score} for i, score in scored])

    def _scored(self, query: str, documents: list[str]) -> list[tuple[int, float]]:
        """A toy cross-encoder: the share of the query's words a document contains, best first
        (so never in document order unless that is the ranking)."""
        words = set(query.lower().split())
        scored = [
            (i, len(words & set(d.lower().split())) / max(1, len(words)))
            for i, d in enumerate(documents)
            if i != self.scenario.rerank_skip
        ]
        return sorted(scored, key=lambda pair: -pair[1])

    # --- behaviour ----------------------------------------------------------------------------

    async def _receive(self, request: web.Request) -> Json:
        body: Json = await request.json() if request.can_read_body else {}
        self.requests.append(
            Received(request.method, request.path, CIMultiDict(request.headers), body)
        )
        return body

    async def _failure(self) -> web.Response | None:
        await self._pause(self.scenario.stall_before_headers)
        error = self.scenario.error
        if error is None:
            return None
        headers = {"Content-Type": "application/json", **error.headers}
        return web.Response(status=error.status, body=error.body, headers=headers)

    def _json(self, payload: Json) -> web.Response:
        body = self.scenario.malformed or json.dumps(payload).encode()
        return web.Response(body=body, content_type="application/json")

    async def _stream(
        self, request: web.Request, body: Json, content: Callable[[str], Json], last: Json
    ) -> web.StreamResponse:
        scenario = self.scenario
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index, piece in enumerate(scenario.chunks):
            if index == scenario.drop_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            if index > 0:
                await self._pause(scenario.chunk_interval)
            await response.write(_event(json.dumps(content(piece)).encode()))
            if index == 0 and scenario.malformed is not None:
                await response.write(_event(scenario.malformed))
            if index == 0 and scenario.gate is not None:
                await self._wait(scenario.gate)
        await response.write(_event(json.dumps(last).encode()))
        if wants_usage and scenario.honour_stream_options:
            usage = last | {"choices": [], "usage": self._usage()}
            await response.write(_event(json.dumps(usage).encode()))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        self.streams_completed += 1
        return response

    def _usage(self) -> Json:
        prompt, completion = self.scenario.prompt_tokens, len(self.scenario.chunks)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    async def _pause(self, seconds: float) -> None:
        """Sleep, but never past shutdown (a stalled handler must not hold the server open)."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    async def _wait(self, event: asyncio.Event) -> None:
        closing = asyncio.ensure_future(self._closing.wait())
        opened = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({closing, opened}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            opened.cancel()


def _chunk_maker(id_: str, object_: str, model: str) -> Callable[[Json], Json]:
    def chunk(choice: Json) -> Json:
        return {
            "id": id_,
            "object": object_,
            "created": CREATED,
            "model": model,
            "choices": [choice],
        }

    return chunk


def _event(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
