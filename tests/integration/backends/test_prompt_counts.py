"""The embedded engine counts a prompt exactly as it then runs it, and the estimate stays below.

The gateway refuses a prompt that does not fit the context from ``PromptTokenizer`` counts, so the
count must be the engine's own ``usage.prompt_tokens`` for every shape of request: chat template,
tool definitions (native or injected), forced tool calls, JSON mode, tool call history, and text
completions in batches or as token ids. The byte estimate used for remote engines must never be above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from llmaas.adapters.model_config import load_models
from llmaas.app import build_backends
from llmaas.domain.errors import BackendUnavailable
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.ports.backends import InferenceBackend, PromptTokenizer
from llmaas.services.context_window import estimated_completion_prompts, estimated_prompt_tokens
from llmaas.settings import Settings

CHAT_MODELS = ("smollm2:135m", "qwen2.5-coder:0.5b")

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
}
CONVERSATIONS: dict[str, dict[str, Any]] = {
    "one message": {"messages": [{"role": "user", "content": "Hello there!"}]},
    "system and turns": {
        "messages": [
            {"role": "system", "content": "You are terse. Réponds en français. 日本語も可。"},
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": [{"type": "text", "text": "And 3 + 3? 🙂"}]},
        ]
    },
    "tools offered": {
        "messages": [{"role": "user", "content": "Weather in Lyon?"}],
        "tools": [TOOL],
    },
    "tool call forced": {
        "messages": [{"role": "user", "content": "Weather in Lyon?"}],
        "tools": [TOOL],
        "tool_choice": "required",
    },
    "tools declined": {
        "messages": [{"role": "user", "content": "Weather in Lyon?"}],
        "tools": [TOOL],
        "tool_choice": "none",
    },
    "tools with JSON mode": {
        "messages": [{"role": "user", "content": "Weather in Lyon, as JSON?"}],
        "tools": [TOOL],
        "response_format": {"type": "json_object"},
    },
    "tool call history": {
        "messages": [
            {"role": "user", "content": "Weather in Lyon?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 21}'},
        ],
        "tools": [TOOL],
    },
}


@dataclass
class Engines:
    loop: asyncio.AbstractEventLoop
    backends: dict[str, InferenceBackend]

    def tokenizer(self, model_id: str) -> PromptTokenizer:
        backend = self.backends[model_id]
        assert isinstance(backend, PromptTokenizer)
        return backend


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    models = [m for m in load_models(None) if m.id in CHAT_MODELS]
    built = build_backends(Settings(engine_threads=2), models)
    loop = asyncio.new_event_loop()
    for backend in built.values():
        loop.run_until_complete(backend.start())
    try:
        yield Engines(loop, {m.id: built[m.deployments[0].name] for m in models})
    finally:
        for backend in built.values():
            loop.run_until_complete(backend.close())
        loop.close()


@pytest.mark.parametrize("model_id", CHAT_MODELS)
@pytest.mark.parametrize("name", CONVERSATIONS)
def test_a_chat_prompt_is_counted_as_the_engine_runs_it(
    engines: Engines, model_id: str, name: str
) -> None:
    request = ChatCompletionRequest.model_validate(
        {"model": model_id, "max_tokens": 1, "temperature": 0, **CONVERSATIONS[name]}
    )
    counted = engines.loop.run_until_complete(
        engines.tokenizer(model_id).count_chat_prompt(request)
    )
    answer = engines.loop.run_until_complete(engines.backends[model_id].chat(request))
    assert answer.usage is not None
    assert counted == answer.usage.prompt_tokens
    assert estimated_prompt_tokens(request) <= counted


@pytest.mark.parametrize("model_id", CHAT_MODELS)
def test_completion_prompts_are_counted_one_by_one(engines: Engines, model_id: str) -> None:
    prompts: list[Any] = ["def fibonacci(n):", "Once upon a time, in Zürich, 夜", [1, 2, 3, 4]]
    request = CompletionRequest.model_validate(
        {"model": model_id, "prompt": prompts[:2], "max_tokens": 1, "temperature": 0}
    )
    counted = engines.loop.run_until_complete(
        engines.tokenizer(model_id).count_completion_prompts(request)
    )
    assert len(counted) == 2
    answer = engines.loop.run_until_complete(engines.backends[model_id].complete(request))
    assert answer.usage is not None
    assert sum(counted) == answer.usage.prompt_tokens
    for prompt in prompts:
        single = request.model_copy(update={"prompt": prompt})
        (count,) = engines.loop.run_until_complete(
            engines.tokenizer(model_id).count_completion_prompts(single)
        )
        usage = engines.loop.run_until_complete(engines.backends[model_id].complete(single)).usage
        assert usage is not None
        assert count == usage.prompt_tokens
        assert estimated_completion_prompts(single) <= [count]


def test_an_engine_not_loaded_cannot_count() -> None:
    (model,) = [m for m in load_models(None) if m.id == "smollm2:135m"]
    backend = build_backends(Settings(), [model])[model.deployments[0].name]
    assert isinstance(backend, PromptTokenizer)
    request = ChatCompletionRequest.model_validate(
        {"model": model.id, "messages": [{"role": "user", "content": "hi"}]}
    )
    with pytest.raises(BackendUnavailable):
        asyncio.run(backend.count_chat_prompt(request))
