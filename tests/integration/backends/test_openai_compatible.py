"""``OpenAICompatibleBackend`` against a fake OpenAI-compatible engine over a real local socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from llmaas.adapters.backends.openai_compatible import OpenAICompatibleBackend, RemoteOptions
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
from llmaas.openai_schema.chat import ChatCompletionChunk, ChatCompletionRequest
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.openai_schema.embeddings import EmbeddingRequest
from tests.fakes.openai_upstream import (
    MALFORMED,
    FakeUpstream,
    HttpError,
    Scenario,
    closed_port,
    context_length_exceeded,
    openai_error,
    rate_limited,
)

TIMEOUT = 0.3  # the backend's first_byte_timeout: how long a stalled engine is waited for
STALL = 5.0  # how long the fake engine stalls: well past TIMEOUT
PATIENCE = 2.0  # the most any single step of a test may take before it counts as hung
API_KEY = "sk-upstream-123"
UPSTREAM_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
CHUNKS = ("Hel", "lo", ", ", "world")

Call = Callable[[OpenAICompatibleBackend], Awaitable[Any]]


def make_backend(base_url: str) -> OpenAICompatibleBackend:
    options = RemoteOptions(
        base_url=base_url,
        upstream_model=UPSTREAM_MODEL,
        api_key=Secret(API_KEY),
        connect_timeout=1.0,
        first_byte_timeout=TIMEOUT,
        total_timeout=10.0,
    )
    return OpenAICompatibleBackend("remote-qwen", options)


@asynccontextmanager
async def started(base_url: str) -> AsyncIterator[OpenAICompatibleBackend]:
    backend = make_backend(base_url)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(Scenario(chunks=CHUNKS)) as fake:
        yield fake


@pytest.fixture
async def backend(upstream: FakeUpstream) -> AsyncIterator[OpenAICompatibleBackend]:
    async with started(upstream.base_url) as started_backend:
        yield started_backend


def chat_request(**extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "qwen-chat", "messages": [{"role": "user", "content": "Say hello"}], **extra}
    )


def completion_request(**extra: Any) -> CompletionRequest:
    return CompletionRequest.model_validate({"model": "qwen-chat", "prompt": "Say hello", **extra})


async def collect_chat(backend: OpenAICompatibleBackend) -> list[ChatCompletionChunk]:
    return [chunk async for chunk in backend.chat_stream(chat_request(stream=True))]


def contents(chunks: list[ChatCompletionChunk]) -> list[str]:
    return [c.delta.content for chunk in chunks for c in chunk.choices if c.delta.content]


async def call_chat(backend: OpenAICompatibleBackend) -> Any:
    return await backend.chat(chat_request())


async def call_chat_stream(backend: OpenAICompatibleBackend) -> Any:
    return await collect_chat(backend)


async def call_complete(backend: OpenAICompatibleBackend) -> Any:
    return await backend.complete(completion_request())


async def call_complete_stream(backend: OpenAICompatibleBackend) -> Any:
    return [chunk async for chunk in backend.complete_stream(completion_request(stream=True))]


async def call_embed(backend: OpenAICompatibleBackend) -> Any:
    return await backend.embed(EmbeddingRequest(model="qwen-embed", input="hello"))


CHAT_CALLS = [pytest.param(call_chat, id="chat"), pytest.param(call_chat_stream, id="chat_stream")]
ALL_CALLS = [
    *CHAT_CALLS,
    pytest.param(call_complete, id="complete"),
    pytest.param(call_complete_stream, id="complete_stream"),
    pytest.param(call_embed, id="embed"),
]


async def raises_within(
    error: type[LlmaasError], call: Awaitable[Any], seconds: float = PATIENCE
) -> LlmaasError:
    started_at = time.monotonic()
    with pytest.raises(error) as caught:
        await asyncio.wait_for(call, seconds)
    assert time.monotonic() - started_at < seconds
    return caught.value


async def aclose(stream: AsyncIterator[Any]) -> None:
    assert isinstance(stream, AsyncGenerator)
    await asyncio.wait_for(stream.aclose(), PATIENCE)


# --- round trips ------------------------------------------------------------------------------


async def test_chat_round_trip(backend: OpenAICompatibleBackend, upstream: FakeUpstream) -> None:
    response = await backend.chat(chat_request(temperature=0.2, top_k=5))

    assert response.choices[0].message.content == "Hello, world"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (9, len(CHUNKS))
    received = upstream.last
    assert (received.method, received.path) == ("POST", "/v1/chat/completions")
    assert received.headers["Authorization"] == f"Bearer {API_KEY}"
    assert received.body["model"] == UPSTREAM_MODEL
    assert received.body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert received.body["temperature"] == 0.2
    assert received.body["top_k"] == 5, "unknown engine parameters are forwarded"
    assert "max_tokens" not in received.body, "unset fields are not sent"


async def test_model_name_is_kept_without_an_upstream_model(upstream: FakeUpstream) -> None:
    backend = OpenAICompatibleBackend("plain", RemoteOptions(base_url=upstream.base_url + "/"))
    await backend.start()
    try:
        await backend.chat(chat_request())
    finally:
        await backend.close()

    assert upstream.last.body["model"] == "qwen-chat"
    assert "Authorization" not in upstream.last.headers


async def test_chat_stream_relays_chunks_in_order_with_usage(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    chunks = await collect_chat(backend)

    assert contents(chunks) == list(CHUNKS)
    assert chunks[len(CHUNKS)].choices[0].finish_reason == "stop"
    usage_chunks = [chunk for chunk in chunks if chunk.usage is not None]
    assert usage_chunks == [chunks[-1]], "exactly one usage chunk, and it comes last"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 9, "the engine's own count, not an estimate"
    assert chunks[-1].usage.completion_tokens == len(CHUNKS)
    assert upstream.last.headers["Authorization"] == f"Bearer {API_KEY}"
    assert upstream.last.body["model"] == UPSTREAM_MODEL
    assert upstream.streams_completed == 1


async def test_stream_always_asks_the_engine_to_stream_with_usage(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    request = chat_request(stream_options={"include_usage": False, "continuous_usage_stats": True})

    chunks = [chunk async for chunk in backend.chat_stream(request)]

    assert contents(chunks) == list(CHUNKS)
    assert upstream.last.body["stream"] is True
    assert upstream.last.body["stream_options"] == {
        "include_usage": True,
        "continuous_usage_stats": True,
    }


async def test_chunks_are_relayed_as_they_are_produced(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    gate = asyncio.Event()
    upstream.scenario.gate = gate  # the engine sends chunk 1, then waits for us to have read it
    stream = backend.chat_stream(chat_request(stream=True))

    first = await asyncio.wait_for(anext(stream), PATIENCE)

    assert contents([first]) == [CHUNKS[0]]
    assert upstream.streams_completed == 0
    gate.set()
    rest = [chunk async for chunk in stream]
    assert contents([first, *rest]) == list(CHUNKS)
    assert upstream.streams_completed == 1


async def test_engine_ignoring_stream_options_still_gets_a_final_usage_chunk(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    upstream.scenario.honour_stream_options = False

    chunks = await collect_chat(backend)

    assert contents(chunks) == list(CHUNKS)
    assert [chunk.usage is not None for chunk in chunks] == [False] * len(CHUNKS) + [False, True]
    usage = chunks[-1].usage
    assert usage is not None
    assert chunks[-1].choices == []
    assert usage.completion_tokens == len(CHUNKS), "one token per content chunk"
    assert usage.prompt_tokens == len("Say hello") // 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert chunks[-1].id == chunks[0].id


async def test_completions_round_trip(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    response = await backend.complete(completion_request(max_tokens=16))

    assert response.choices[0].text == "Hello, world"
    assert response.usage is not None
    assert response.usage.completion_tokens == len(CHUNKS)
    assert upstream.last.path == "/v1/completions"
    assert upstream.last.body["model"] == UPSTREAM_MODEL
    assert upstream.last.body["max_tokens"] == 16
    assert "stream" not in upstream.last.body


@pytest.mark.parametrize("honour_stream_options", [True, False])
async def test_completions_stream(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, honour_stream_options: bool
) -> None:
    upstream.scenario.honour_stream_options = honour_stream_options

    chunks = [chunk async for chunk in backend.complete_stream(completion_request(stream=True))]

    assert [c.text for chunk in chunks for c in chunk.choices if c.text] == list(CHUNKS)
    assert [chunk.usage is not None for chunk in chunks].count(True) == 1
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == len(CHUNKS)
    assert usage.prompt_tokens == (9 if honour_stream_options else len("Say hello") // 4)
    assert upstream.last.path == "/v1/completions"
    assert upstream.last.body["stream_options"] == {"include_usage": True}


async def test_embeddings_round_trip_always_asks_for_floats(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    upstream.scenario.reverse_embeddings = True
    request = EmbeddingRequest(model="qwen-embed", input=["one", "two"], encoding_format="base64")

    result = await backend.embed(request)

    assert result.vectors == [[0.25, -0.5, 1.0], [0.5, -1.0, 2.0]], "in input order, as floats"
    assert result.prompt_tokens == 9
    assert upstream.last.path == "/v1/embeddings"
    assert upstream.last.body == {
        "model": UPSTREAM_MODEL,
        "input": ["one", "two"],
        "encoding_format": "float",
    }
    assert upstream.last.headers["Authorization"] == f"Bearer {API_KEY}"


# --- health -----------------------------------------------------------------------------------


async def test_healthy_against_a_live_engine(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    assert await backend.is_healthy() is True
    assert (upstream.last.method, upstream.last.path) == ("GET", "/v1/models")
    assert upstream.last.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_unhealthy_when_the_engine_answers_503(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    upstream.scenario.error = openai_error(503, "loading")
    assert await backend.is_healthy() is False


async def test_unhealthy_when_nothing_listens() -> None:
    async with started(f"http://127.0.0.1:{closed_port()}/v1") as backend:
        assert await asyncio.wait_for(backend.is_healthy(), PATIENCE) is False


async def test_unhealthy_and_unavailable_before_start(upstream: FakeUpstream) -> None:
    backend = make_backend(upstream.base_url)
    assert await backend.is_healthy() is False
    await raises_within(BackendUnavailable, backend.chat(chat_request()))
    assert upstream.requests == []


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ALL_CALLS)
async def test_connection_refused_is_unavailable(call: Call) -> None:
    async with started(f"http://127.0.0.1:{closed_port()}/v1") as backend:
        await raises_within(BackendUnavailable, call(backend))


@pytest.mark.parametrize("call", ALL_CALLS)
async def test_stall_before_the_first_byte_times_out(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, call: Call
) -> None:
    upstream.scenario.stall_before_headers = STALL
    started_at = time.monotonic()

    await raises_within(UpstreamTimeout, call(backend))

    assert time.monotonic() - started_at >= TIMEOUT * 0.9


async def test_stall_mid_stream_times_out_after_the_chunks_already_sent(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    upstream.scenario.chunk_interval = STALL
    received: list[ChatCompletionChunk] = []

    async def consume() -> None:
        async for chunk in backend.chat_stream(chat_request(stream=True)):
            received.append(chunk)

    await raises_within(UpstreamTimeout, consume())
    assert contents(received) == [CHUNKS[0]]


@pytest.mark.parametrize("call", ALL_CALLS)
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(openai_error(500, "CUDA out of memory"), UpstreamFailed, id="500"),
        pytest.param(openai_error(503, "model is loading"), BackendUnavailable, id="503"),
        pytest.param(HttpError(502, b"<html>Bad Gateway</html>"), BackendUnavailable, id="502"),
        pytest.param(openai_error(401, "bad key"), UpstreamFailed, id="401"),
    ],
)
async def test_engine_errors_map_to_domain_errors(
    backend: OpenAICompatibleBackend,
    upstream: FakeUpstream,
    call: Call,
    error: HttpError,
    expected: type[LlmaasError],
) -> None:
    upstream.scenario.error = error

    raised = await raises_within(expected, call(backend))

    assert f"HTTP {error.status}" in raised.message
    assert "CUDA" not in raised.message


@pytest.mark.parametrize("call", CHAT_CALLS)
@pytest.mark.parametrize(("retry_after", "seconds"), [("2", 2.0), ("0.5", 0.5), ("soon", None)])
async def test_429_is_rate_limited_with_retry_after(
    backend: OpenAICompatibleBackend,
    upstream: FakeUpstream,
    call: Call,
    retry_after: str,
    seconds: float | None,
) -> None:
    upstream.scenario.error = rate_limited(retry_after)

    raised = await raises_within(UpstreamRateLimited, call(backend))

    assert isinstance(raised, UpstreamRateLimited)
    assert raised.retry_after == seconds


@pytest.mark.parametrize("call", CHAT_CALLS)
async def test_400_context_length_is_context_length_exceeded(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, call: Call
) -> None:
    upstream.scenario.error = context_length_exceeded()

    raised = await raises_within(ContextLengthExceeded, call(backend))

    assert raised.param == "messages"
    assert raised.code == "context_length_exceeded"
    assert "4096" not in raised.message, "the engine's text (which may quote input) stays out"


@pytest.mark.parametrize("call", CHAT_CALLS)
async def test_other_400_is_rejected_with_the_engine_code_and_param(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, call: Call
) -> None:
    upstream.scenario.error = openai_error(
        400, "temperature 'hot' is invalid", code="invalid_value", param="temperature"
    )

    raised = await raises_within(UpstreamRejected, call(backend))

    assert (raised.param, raised.code) == ("temperature", "invalid_value")
    assert "hot" not in raised.message


@pytest.mark.parametrize("call", ALL_CALLS)
async def test_malformed_json_body_is_upstream_failed(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, call: Call
) -> None:
    upstream.scenario.malformed = MALFORMED

    await raises_within(UpstreamFailed, call(backend))


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(MALFORMED, id="truncated-json"),
        pytest.param(b'{"id": "chatcmpl-fake", "choices": "nope"}', id="wrong-shape"),
        pytest.param(b'{"error": {"message": "CUDA out of memory", "code": 500}}', id="error"),
        pytest.param(b'{"error": {"message": "CUDA out of', id="truncated-error"),
    ],
)
async def test_bad_event_mid_stream_is_upstream_failed_after_the_good_chunks(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, event: bytes
) -> None:
    upstream.scenario.malformed = event
    received: list[ChatCompletionChunk] = []

    async def consume() -> None:
        async for chunk in backend.chat_stream(chat_request(stream=True)):
            received.append(chunk)

    raised = await raises_within(UpstreamFailed, consume())

    assert contents(received) == [CHUNKS[0]]
    assert "CUDA" not in raised.message


async def test_connection_dropped_mid_stream_is_upstream_failed_after_the_chunks(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    upstream.scenario.drop_after = 2
    received: list[ChatCompletionChunk] = []

    async def consume() -> None:
        async for chunk in backend.chat_stream(chat_request(stream=True)):
            received.append(chunk)

    await raises_within(UpstreamFailed, consume())

    assert contents(received) == list(CHUNKS[:2])
    assert all(chunk.usage is None for chunk in received), "no made-up usage for a broken stream"


@pytest.mark.parametrize("kind", ["chat", "completions"])
async def test_closing_the_stream_early_disconnects_the_engine(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream, kind: str
) -> None:
    upstream.scenario.gate = asyncio.Event()  # never set: the engine is mid-generation
    stream: AsyncIterator[Any] = (
        backend.chat_stream(chat_request(stream=True))
        if kind == "chat"
        else backend.complete_stream(completion_request(stream=True))
    )
    await asyncio.wait_for(anext(stream), PATIENCE)
    assert not upstream.disconnected.is_set()

    await aclose(stream)

    await asyncio.wait_for(upstream.disconnected.wait(), PATIENCE)
    assert upstream.streams_completed == 0


async def test_the_backend_streams_again_after_a_stream_closed_early(
    backend: OpenAICompatibleBackend, upstream: FakeUpstream
) -> None:
    upstream.scenario.gate = asyncio.Event()
    stream = backend.chat_stream(chat_request(stream=True))
    await asyncio.wait_for(anext(stream), PATIENCE)
    await aclose(stream)
    upstream.scenario.gate = None

    chunks = await asyncio.wait_for(collect_chat(backend), PATIENCE)

    assert contents(chunks) == list(CHUNKS)
