"""The catalog's limits, enforced by the gateway before any engine works: context length, longest
completion, and capabilities, each a clear 400 the official SDK surfaces with its code and param."""

from __future__ import annotations

import random

import openai
import pytest

from tests.e2e.conftest import Server

SMALL_CONTEXT_MODEL = "smollm2:135m"  # 8192 tokens of context
CAPPED_OUTPUT_MODEL = "qwen2.5-coder:0.5b"  # at most 8192 completion tokens
EMBEDDING_MODEL = "all-minilm:22m"


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)


def long_text(chars: int) -> str:
    """Varied made-up words: no run a tokenizer could swallow whole."""
    rng = random.Random(7)
    words: list[str] = []
    size = 0
    while size < chars:
        word = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def test_a_prompt_over_the_context_is_refused_by_the_gateway(client: openai.OpenAI) -> None:
    text = long_text(40_000)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=SMALL_CONTEXT_MODEL, messages=[{"role": "user", "content": text}]
        )
    error = caught.value
    assert (error.code, error.param) == ("context_length_exceeded", "messages")
    # The gateway's own wording, with the exact count (the engine would say "in the input").
    assert "maximum context length is 8192 tokens" in error.message
    assert "your messages resulted in" in error.message
    assert "at least" not in error.message

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=SMALL_CONTEXT_MODEL,
            messages=[{"role": "user", "content": text}],
            max_tokens=10,
            stream=True,
        )
    assert caught.value.code == "context_length_exceeded"
    assert "10 in the completion" in caught.value.message

    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=SMALL_CONTEXT_MODEL, prompt=["hello", text])
    assert (caught.value.code, caught.value.param) == ("context_length_exceeded", "prompt")
    assert "16 in the completion" in caught.value.message  # /v1/completions' default


def test_a_prompt_that_fits_is_still_served(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=SMALL_CONTEXT_MODEL,
        messages=[{"role": "user", "content": long_text(2_000)}],
        max_tokens=2,
    )
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 250


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_an_output_limit_above_the_models_is_refused(client: openai.OpenAI, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(  # type: ignore[call-overload]
            model=CAPPED_OUTPUT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            **{param: 9000},
        )
    assert (caught.value.code, caught.value.param) == ("max_tokens_exceeded", param)
    assert "at most 8192 completion tokens" in caught.value.message


def test_capabilities_the_model_lacks_are_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=EMBEDDING_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            tools=[
                {
                    "type": "function",
                    "function": {"name": "f", "parameters": {"type": "object"}},
                }
            ],
        )
    assert (caught.value.code, caught.value.param) == ("unsupported_capability", "model")

    image = "data:image/png;base64,iVBORw0KGgo="
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=SMALL_CONTEXT_MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": image}},
                    ],
                }
            ],
        )
    assert caught.value.code == "unsupported_capability"
    assert caught.value.param == "messages[0].content"
