"""Remote engines that speak the OpenAI protocol: vLLM, Ollama (``/v1``), llama.cpp server, TGI.

One pooled keep-alive ``aiohttp`` session per deployment. Streams are relayed event by event as they
arrive (no re-buffering). Closing a stream early (the client went away) closes the upstream connection,
which is how vLLM and friends learn to abort the generation. Upstream failures become domain errors; the
engine's free-text error messages are not relayed, since some engines quote the offending input.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson
from pydantic import BaseModel, ValidationError

from llmaas.adapters.backends.remote_rerank import (
    CohereRerankAnswer,
    RerankApi,
    TeiRerankAnswer,
    cohere_result,
    rerank_body,
    rerank_path,
    tei_result,
)
from llmaas.adapters.backends.remote_speech import (
    RemoteTranscription,
    speech_form,
    speech_path,
    transcript_events,
)
from llmaas.domain.errors import (
    BackendUnavailable,
    ContextLengthExceeded,
    LlmaasError,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from llmaas.domain.secrets import Secret
from llmaas.domain.transcripts import SpeechJob
from llmaas.domain.usage import TokenUsage
from llmaas.openai_schema.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llmaas.openai_schema.completions import Completion, CompletionRequest
from llmaas.openai_schema.embeddings import CreateEmbeddingResponse, EmbeddingRequest
from llmaas.openai_schema.sse import DONE, SseDecoder
from llmaas.openai_schema.usage import CompletionUsage
from llmaas.ports.backends import EmbeddingResult, RerankResult
from llmaas.ports.speech import TranscriptEvent

W = TypeVar("W", bound=BaseModel)
S = TypeVar("S", ChatCompletionChunk, Completion)

# Failures that mean "this deployment cannot take the request": the caller fails over to the next one.
# A connect timeout belongs here (a host that silently drops packets), a read timeout does not.
_UNREACHABLE = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ServerDisconnectedError,
)


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    base_url: str
    upstream_model: str | None = None
    """The engine's own name for the model (e.g. ``Qwen/Qwen2.5-Coder-0.5B-Instruct``)."""
    api_key: Secret | None = None
    connect_timeout: float = 5.0
    first_byte_timeout: float = 60.0
    """Bounds the wait for the response head and for each stream event (a stalled engine)."""
    total_timeout: float = 600.0
    max_connections: int = 256
    rerank_api: RerankApi = RerankApi.COHERE
    tls: ssl.SSLContext | bool = True
    """For ``https`` URLs: ``True`` verifies against the system's CAs, a context against the
    deployment's own ``ca_bundle``; ``False`` (``tls_verify: false``) does not verify at all."""


class OpenAICompatibleBackend:
    def __init__(self, name: str, options: RemoteOptions) -> None:
        self._name = name
        self._options = options
        self._base = options.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=options.total_timeout,
            sock_connect=options.connect_timeout,
            sock_read=options.first_byte_timeout,
        )

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if self._options.api_key:
            headers["Authorization"] = f"Bearer {self._options.api_key.reveal()}"
        connector = aiohttp.TCPConnector(
            limit=self._options.max_connections,
            keepalive_timeout=30,
            ttl_dns_cache=60,
            ssl=self._options.tls,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=self._timeout, auto_decompress=True
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def is_healthy(self) -> bool:
        try:
            async with self._client().get(
                f"{self._base}/models", timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, BackendUnavailable):
            return False

    # --- operations ---------------------------------------------------------------------------

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        return await self._post("/chat/completions", self._body(request), ChatCompletion)

    async def chat_stream(
        self, request: ChatCompletionRequest
    ) -> AsyncIterator[ChatCompletionChunk]:
        stream = self._stream("/chat/completions", self._stream_body(request), ChatCompletionChunk)
        async for chunk in _with_usage(stream, _chat_outputs, _prompt_chars(request)):
            yield chunk

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self._post("/completions", self._body(request), Completion)

    async def complete_stream(self, request: CompletionRequest) -> AsyncIterator[Completion]:
        stream = self._stream("/completions", self._stream_body(request), Completion)
        async for chunk in _with_usage(stream, _text_outputs, len(str(request.prompt))):
            yield chunk

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        # Always ask for floats: base64 (the SDK's default) is re-encoded by the gateway.
        body = self._body(request, encoding_format="float", dimensions=None)
        response = await self._post("/embeddings", body, CreateEmbeddingResponse)
        vectors = []
        for item in sorted(response.data, key=lambda d: d.index):
            if not isinstance(item.embedding, list):
                raise UpstreamFailed("The inference engine returned a malformed embedding.")
            vectors.append(item.embedding)
        return EmbeddingResult(vectors=vectors, prompt_tokens=response.usage.prompt_tokens)

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> RerankResult:
        api = self._options.rerank_api
        body = rerank_body(api, self._options.upstream_model, query, documents)
        url = rerank_path(api, self._base)
        if api is RerankApi.TEI:
            return tei_result(await self._post_to(url, body, TeiRerankAnswer), query, documents)
        return cohere_result(await self._post_to(url, body, CohereRerankAnswer), query, documents)

    async def transcribe(self, job: SpeechJob) -> AsyncIterator[TranscriptEvent]:
        """Whole-file recognition upstream; the segments are relayed once it has answered."""
        payload = speech_form(job, self._options.upstream_model or job.model)()
        headers = {"Content-Type": payload.content_type}
        url = self._base + speech_path(job)
        answer = await self._post_to(url, payload, RemoteTranscription, headers=headers)
        for event in transcript_events(answer):
            yield event

    # --- transport ----------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise BackendUnavailable(f"The deployment '{self._name}' is not started.")
        return self._session

    def _body(self, request: BaseModel, **overrides: Any) -> bytes:
        payload = request.model_dump(exclude_unset=True, by_alias=True)
        payload["model"] = self._options.upstream_model or payload["model"]
        for key, value in overrides.items():
            if value is None:
                payload.pop(key, None)
            else:
                payload[key] = value
        return orjson.dumps(payload)

    def _stream_body(self, request: ChatCompletionRequest | CompletionRequest) -> bytes:
        """Whatever the caller set: ask for a stream, with the usage chunk the port promises."""
        options = (
            request.stream_options.model_dump(exclude_unset=True) if request.stream_options else {}
        )
        return self._body(request, stream=True, stream_options=options | {"include_usage": True})

    async def _post(self, path: str, body: bytes, wire: type[W]) -> W:
        return await self._post_to(self._base + path, body, wire)

    async def _post_to(
        self, url: str, body: Any, wire: type[W], headers: dict[str, str] | None = None
    ) -> W:
        try:
            async with self._client().post(url, data=body, headers=headers) as response:
                if response.status != 200:
                    raise await _upstream_error(response)
                raw = await response.read()
        except LlmaasError:
            raise
        except _UNREACHABLE as error:
            raise BackendUnavailable(_unreachable(self._name)) from error
        except TimeoutError as error:
            raise UpstreamTimeout("The inference engine did not answer in time.") from error
        except aiohttp.ClientError as error:
            raise UpstreamFailed("The connection to the inference engine failed.") from error
        return _parse(wire, raw)

    async def _stream(self, path: str, body: bytes, wire: type[W]) -> AsyncGenerator[W, None]:
        response: aiohttp.ClientResponse | None = None
        finished = False
        try:
            response = await self._open(path, body)
            async for event in _events(response):
                yield _parse_event(wire, event)
            finished = True
        except LlmaasError:
            raise
        except TimeoutError as error:
            raise UpstreamTimeout("The inference engine stalled while streaming.") from error
        except aiohttp.ClientError as error:
            raise UpstreamFailed("The inference engine broke off the stream.") from error
        finally:
            if response is not None:
                if finished:
                    response.release()
                else:
                    response.close()  # drop the connection: the engine aborts the generation

    async def _open(self, path: str, body: bytes) -> aiohttp.ClientResponse:
        try:
            response = await self._client().post(self._base + path, data=body)
        except _UNREACHABLE as error:
            raise BackendUnavailable(_unreachable(self._name)) from error
        except TimeoutError as error:
            raise UpstreamTimeout("The inference engine did not answer in time.") from error
        if response.status != 200:
            try:
                raise await _upstream_error(response)
            finally:
                response.release()
        return response


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """SSE payloads as they arrive, up to ``[DONE]`` (or the end of the body, for lax engines)."""
    decoder = SseDecoder()
    async for data in response.content.iter_any():
        for event in decoder.feed(data):
            payload = event.strip()
            if payload == DONE:
                return
            if payload:  # an empty data field is a keep-alive, not an event
                yield event
    for event in decoder.flush():
        payload = event.strip()
        if payload and payload != DONE:
            yield event


def _unreachable(name: str) -> str:
    return f"The deployment '{name}' cannot be reached."


def _parse(wire: type[W], raw: bytes) -> W:
    try:
        return wire.model_validate_json(raw)
    except ValidationError:
        raise UpstreamFailed("The inference engine returned a malformed response.") from None


def _parse_event(wire: type[W], event: bytes) -> W:
    if event.startswith(b'{"error"'):
        try:
            body = orjson.loads(event)
        except orjson.JSONDecodeError:
            body = None
        raise _error_from_body(body, status=500)
    return _parse(wire, event)


async def _upstream_error(response: aiohttp.ClientResponse) -> LlmaasError:
    try:
        body = orjson.loads(await response.read())
    except (orjson.JSONDecodeError, aiohttp.ClientError):
        body = None
    if response.status == 429:
        return UpstreamRateLimited(
            "The inference engine is overloaded; retry shortly.",
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    return _error_from_body(body, status=response.status)


def _error_from_body(body: Any, *, status: int) -> LlmaasError:
    error = body.get("error") if isinstance(body, dict) else None
    detail = error if isinstance(error, dict) else body if isinstance(body, dict) else {}
    message = str(detail.get("message", "")) if isinstance(detail, dict) else ""
    code = detail.get("code") if isinstance(detail, dict) else None
    param = detail.get("param") if isinstance(detail, dict) else None
    if status in (502, 503, 504):
        return BackendUnavailable(f"The inference engine is unavailable (HTTP {status}).")
    if status >= 500 or status in (401, 403):
        return UpstreamFailed(f"The inference engine failed (HTTP {status}).")
    if "context length" in message.lower() or code == "context_length_exceeded":
        return ContextLengthExceeded(
            "The input and max_tokens exceed the model's maximum context length.",
            param=param if isinstance(param, str) else "messages",
        )
    return UpstreamRejected(
        f"The inference engine rejected the request (HTTP {status}).",
        param=param if isinstance(param, str) else None,
        code=code if isinstance(code, str) else None,
    )


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


async def _with_usage(
    stream: AsyncGenerator[S, None], outputs: Callable[[S], int], prompt_chars: int
) -> AsyncGenerator[S, None]:
    """Relay the engine's chunks; if it never reported usage (some engines ignore
    ``stream_options``), end with an estimate: one token per content event, and the prompt's
    characters / 4, rather than report nothing."""
    seen_usage = False
    produced = 0
    last: S | None = None
    # Closed early (the client went away), the engine's stream is closed now, not at GC.
    async with aclosing(stream):
        async for chunk in stream:
            seen_usage = seen_usage or chunk.usage is not None
            produced += outputs(chunk)
            last = chunk
            yield chunk
    if not seen_usage and last is not None:
        usage = _estimated_usage(prompt_chars, produced)
        yield last.model_copy(update={"choices": [], "usage": usage})


def _chat_outputs(chunk: ChatCompletionChunk) -> int:
    return sum(1 for c in chunk.choices if c.delta.content or c.delta.tool_calls)


def _text_outputs(chunk: Completion) -> int:
    return sum(1 for c in chunk.choices if c.text)


def _prompt_chars(request: ChatCompletionRequest) -> int:
    return sum(len(str(m.content or "")) for m in request.messages)


def _estimated_usage(prompt_chars: int, completion_tokens: int) -> CompletionUsage:
    return CompletionUsage.from_domain(
        TokenUsage(prompt_tokens=max(1, prompt_chars // 4), completion_tokens=completion_tokens)
    )
