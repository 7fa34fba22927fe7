"""The official ``openai`` SDK against a real server and the real embedded models."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam

from tests.e2e.conftest import Server
from tests.support.openai_spec import assert_valid

CHAT_MODEL = "qwen2.5-coder:0.5b"
FAST_MODEL = "smollm2:135m"
EMBEDDING_MODEL = "all-minilm:22m"
CANARY = "zebra-canary-7f3a91"  # must never reach a log line or the database

WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)


@pytest.fixture(scope="module")
def async_client(server: Server) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)


def raw_post(server: Server, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        server.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=120,
    )


def sse_payloads(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


# --- models -----------------------------------------------------------------------------------


def test_models_list_the_embedded_models_with_metadata(
    client: openai.OpenAI, server: Server
) -> None:
    models = {m.id: m for m in client.models.list()}
    assert {CHAT_MODEL, FAST_MODEL, EMBEDDING_MODEL} <= set(models)
    qwen = models[CHAT_MODEL].model_dump()
    assert qwen["context_length"] == 32768
    assert "tools" in qwen["capabilities"]
    assert models[EMBEDDING_MODEL].model_dump()["capabilities"] == ["embeddings", "rerank"]
    raw = httpx.get(
        server.base_url + "/models", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    assert_valid("ListModelsResponse", raw.json())


def test_retrieve_one_model(client: openai.OpenAI) -> None:
    model = client.models.retrieve(CHAT_MODEL)
    assert model.id == CHAT_MODEL
    assert model.owned_by == "qwen"
    assert model.created > 1_700_000_000


# --- chat -------------------------------------------------------------------------------------


def test_chat_answers_and_matches_the_official_schema(
    client: openai.OpenAI, server: Server
) -> None:
    completion = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is 2+2? Answer with only the number."}],
        temperature=0,
        max_tokens=10,
    )
    assert "4" in (completion.choices[0].message.content or "")
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 10 and usage.completion_tokens >= 1
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    raw = raw_post(
        server,
        "/chat/completions",
        {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5},
    )
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert_valid("CreateChatCompletionResponse", raw.json())


def test_content_as_an_array_of_parts(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=FAST_MODEL,
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "text", "text": "Say hello."}]},
        ],
        max_tokens=5,
    )
    assert completion.choices[0].message.role == "assistant"


def test_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=FAST_MODEL,
        messages=[{"role": "user", "content": "Tell me about Paris."}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["length"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_sends_no_usage_chunk(server: Server) -> None:
    response = raw_post(
        server,
        "/chat/completions",
        {
            "model": FAST_MODEL,
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 4,
            "stream": True,
        },
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    for payload in payloads[:-1]:
        chunk = json.loads(payload)
        assert_valid("CreateChatCompletionStreamResponse", chunk)
        assert "usage" not in chunk


async def test_async_client_and_async_stream(async_client: openai.AsyncOpenAI) -> None:
    completion = await async_client.chat.completions.create(
        model=FAST_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
    )
    assert completion.choices[0].message.content is not None
    stream = await async_client.chat.completions.create(
        model=FAST_MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces = [chunk async for chunk in stream]
    assert pieces[-1].usage is not None and pieces[-1].usage.completion_tokens >= 1


def test_json_object_mode_produces_parseable_json(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[
            {"role": "user", "content": "Describe a cat as a JSON object with a name and an age."}
        ],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=60,
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_json_schema_mode_follows_the_schema(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
        "required": ["country", "capital"],
        "additionalProperties": False,
    }
    completion = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "capital", "schema": schema},
        },
        temperature=0,
        max_tokens=40,
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert set(answer) == {"country", "capital"}
    assert "paris" in answer["capital"].lower()


def test_tool_call_round_trip(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    first = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=messages,
        tools=[WEATHER_TOOL],
        tool_choice="required",
        temperature=0,
        max_tokens=60,
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert "paris" in json.loads(call.function.arguments)["city"].lower()
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": '{"temperature_c": 22, "sky": "sunny"}',
        },
    ]
    final = client.chat.completions.create(
        model=CHAT_MODEL, messages=messages, tools=[WEATHER_TOOL], temperature=0, max_tokens=60
    )
    assert final.choices[0].finish_reason == "stop"
    assert "22" in (final.choices[0].message.content or "")


def test_auto_tool_choice_lets_the_model_call(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        temperature=0,
        max_tokens=60,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"


def test_streamed_tool_call(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Weather in Lyon?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
        max_tokens=60,
        stream=True,
    )
    chunks = list(stream)
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function is not None and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments or "")["city"]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_n_choices_logprobs_stop_and_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=FAST_MODEL,
        messages=[{"role": "user", "content": "Write a sentence."}],
        n=2,
        max_tokens=6,
        logprobs=True,
        top_logprobs=2,
        seed=7,
    )
    assert [c.index for c in completion.choices] == [0, 1]
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content
    first = logprobs.content[0]
    assert first.logprob <= 0 and len(first.top_logprobs) == 2
    assert first.top_logprobs[0].logprob >= first.top_logprobs[1].logprob
    assert completion.usage is not None
    limited = [c for c in completion.choices if c.finish_reason == "length"]
    assert completion.usage.completion_tokens <= 12 and limited


def test_stop_sequence_is_not_emitted(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
        stop=["5"],
        temperature=0,
        max_tokens=40,
    )
    content = completion.choices[0].message.content or ""
    assert "4" in content and "5" not in content
    assert completion.choices[0].finish_reason == "stop"


def test_seed_makes_sampling_reproducible(client: openai.OpenAI) -> None:
    def sample() -> str | None:
        return (
            client.chat.completions.create(
                model=FAST_MODEL,
                messages=[{"role": "user", "content": "Invent a word."}],
                temperature=1.0,
                seed=1234,
                max_tokens=8,
            )
            .choices[0]
            .message.content
        )

    assert sample() == sample()


# --- completions ------------------------------------------------------------------------------


def test_completions_single_batch_and_stream(client: openai.OpenAI, server: Server) -> None:
    single = client.completions.create(
        model=CHAT_MODEL, prompt="def add(a, b):", max_tokens=12, temperature=0
    )
    assert single.choices[0].text and single.usage is not None
    assert single.usage.completion_tokens <= 12
    batch = client.completions.create(model=FAST_MODEL, prompt=["Hello", "Bonjour"], max_tokens=3)
    assert sorted(c.index for c in batch.choices) == [0, 1]
    streamed = list(
        client.completions.create(
            model=FAST_MODEL,
            prompt="Once upon a time",
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in streamed if c.choices)
    assert streamed[-1].usage is not None and streamed[-1].usage.completion_tokens == 5
    raw = raw_post(
        server, "/completions", {"model": FAST_MODEL, "prompt": [1, 2, 3], "max_tokens": 2}
    )
    assert raw.status_code == 200
    assert_valid("CreateCompletionResponse", raw.json())


# --- embeddings -------------------------------------------------------------------------------


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_embeddings_float_and_base64_agree_and_capture_meaning(
    client: openai.OpenAI, server: Server
) -> None:
    texts = [
        "The cat sits on the mat.",
        "A kitten is resting on a rug.",
        "Quarterly revenue grew by ten percent.",
    ]
    floats = client.embeddings.create(model=EMBEDDING_MODEL, input=texts, encoding_format="float")
    base64 = client.embeddings.create(model=EMBEDDING_MODEL, input=texts)  # SDK default: base64
    a, b, c = (d.embedding for d in floats.data)
    assert len(a) == 384
    assert cosine(a, b) > cosine(a, c) + 0.2
    for left, right in zip(floats.data, base64.data, strict=True):
        assert max(abs(x - y) for x, y in zip(left.embedding, right.embedding, strict=True)) < 1e-6
    assert floats.usage.prompt_tokens > 10
    raw = raw_post(server, "/embeddings", {"model": EMBEDDING_MODEL, "input": "hello"})
    assert_valid("CreateEmbeddingResponse", raw.json())
    tokens = raw_post(server, "/embeddings", {"model": EMBEDDING_MODEL, "input": [101, 7592, 102]})
    assert tokens.status_code == 200 and len(tokens.json()["data"][0]["embedding"]) == 384
    native = raw_post(
        server, "/embeddings", {"model": EMBEDDING_MODEL, "input": "x", "dimensions": 384}
    )
    assert native.status_code == 200
