"""A request that cannot fit the model's context is refused before admission and before any engine."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.errors import BackendUnavailable, ContextLengthExceeded, InvalidRequest
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.openai_schema.completions import CompletionRequest
from llmaas.ports.backends import PromptTokenizer
from llmaas.ports.counters import ReserveResult, SlotClaim, WindowCharge
from llmaas.services.admission import Admission
from llmaas.services.completions import CompletionsService, RequestContext
from llmaas.services.context_window import (
    check_context,
    estimated_completion_prompts,
    estimated_prompt_tokens,
)
from llmaas.services.failover import Attempts
from llmaas.services.metering import Metering
from llmaas.services.routing import Router
from tests.unit.services.fakes import FakeClock, ListRecorder, ScriptedBackend
from tests.unit.services.test_completions import catalog_of

MODEL = ServedModel(
    id="m",
    owned_by="t",
    created=0,
    context_length=100,
    max_output_tokens=50,
    capabilities=frozenset({Capability.CHAT, Capability.COMPLETIONS, Capability.TOOLS}),
    deployments=(DeploymentSpec("a", "fake"),),
)
CTX = RequestContext(Principal(key_id="k1", key_name="test"), request_id="r1")
FUNCTION = {
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def chat(content: object = "hi", **fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": content}], **fields}
    )


def completion(prompt: object, **fields: object) -> CompletionRequest:
    return CompletionRequest.model_validate({"model": "m", "prompt": prompt, **fields})


# --- the estimate ---------------------------------------------------------------------------------


def test_the_estimate_is_a_byte_count_over_eight() -> None:
    assert estimated_prompt_tokens(chat("abcdefgh" * 10)) == 10
    assert estimated_prompt_tokens(chat("abcdefgh" * 10 + "abcdefg")) == 10  # rounded down


def test_multibyte_scripts_count_their_utf8_bytes() -> None:
    assert estimated_prompt_tokens(chat("我们今天" * 2)) == 3  # 8 ideographs, 3 bytes each
    assert estimated_prompt_tokens(chat("a😀" * 8)) == 5  # 1 + 4 bytes, eight times


def test_runs_of_whitespace_and_punctuation_count_once() -> None:
    """Tokenizers swallow indentation and rules whole; counting their bytes would overcount."""
    assert estimated_prompt_tokens(chat("abcdefg" + " " * 400 + "h")) == 1
    assert estimated_prompt_tokens(chat("=" * 800)) == 0
    assert estimated_prompt_tokens(chat("😀🎉🚀" * 100)) == 0


def test_every_text_of_the_conversation_counts_and_images_do_not() -> None:
    parts = [
        {"type": "text", "text": "abcdefgh"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}},
        {"type": "text", "text": "ijklmnop"},
    ]
    assert estimated_prompt_tokens(chat(parts)) == 2
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "abcdefgh", "name": "abcdefgh"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "content": "abcdefgh", "tool_call_id": "call_1"},
            ],
        }
    )
    # 24 bytes of content and name, "f" and "{}" (one run of punctuation: 1 byte)
    assert estimated_prompt_tokens(request) == (24 + 1 + 1) // 8


def test_tool_definitions_count_as_their_json() -> None:
    tool = {"type": "function", "function": {**FUNCTION, "description": "abcdefgh" * 50}}
    plain = estimated_prompt_tokens(chat("hi"))
    added = estimated_prompt_tokens(chat("hi", tools=[tool, tool])) - plain
    raw = len(json.dumps(tool).encode())
    assert 2 * 50 <= added <= 2 * raw // 8  # the descriptions at least, the raw JSON at most


def test_completion_prompts_are_estimated_one_by_one_and_token_ids_counted() -> None:
    assert estimated_completion_prompts(completion(["abcdefgh" * 4, "ab"])) == [4, 0]
    assert estimated_completion_prompts(completion([[1, 2, 3], [4]])) == [3, 1]


# --- the check ------------------------------------------------------------------------------------


def test_a_prompt_and_output_exactly_at_the_limit_pass_one_over_fails() -> None:
    check_context(MODEL, 60, 40, exact=True, param="messages")
    with pytest.raises(ContextLengthExceeded) as caught:
        check_context(MODEL, 61, 40, exact=True, param="messages")
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "messages"
    assert caught.value.message.startswith(
        "This model's maximum context length is 100 tokens. However, you requested 101 tokens "
        "(61 in the messages, 40 in the completion)."
    )


def test_a_prompt_must_leave_room_for_one_token() -> None:
    check_context(MODEL, 99, None, exact=True, param="prompt")
    with pytest.raises(ContextLengthExceeded) as caught:
        check_context(MODEL, 100, None, exact=True, param="prompt")
    assert caught.value.param == "prompt"
    assert "your prompt resulted in 100 tokens" in caught.value.message


def test_an_estimate_says_at_least() -> None:
    with pytest.raises(ContextLengthExceeded) as caught:
        check_context(MODEL, 90, 20, exact=False, param="messages")
    assert "you requested at least 110 tokens (at least 90 in the messages" in caught.value.message


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_an_output_limit_above_the_models_is_refused_under_its_own_name(param: str) -> None:
    check_context(MODEL, 1, 50, exact=True, param="messages", output_param=param)
    with pytest.raises(InvalidRequest) as caught:
        check_context(MODEL, 1, 51, exact=True, param="messages", output_param=param)
    assert not isinstance(caught.value, ContextLengthExceeded)
    assert caught.value.code == "max_tokens_exceeded"
    assert caught.value.param == param
    assert "at most 50 completion tokens" in caught.value.message


def test_overflowing_the_context_is_reported_before_a_too_large_output_limit() -> None:
    with pytest.raises(ContextLengthExceeded):
        check_context(MODEL, 10, 400, exact=True, param="messages")


# --- the service ----------------------------------------------------------------------------------


class CountingBackend(ScriptedBackend):
    """An engine with a tokenizer here: it says how many tokens each prompt is."""

    def __init__(self, counts: Sequence[int], *, loaded: bool = True) -> None:
        super().__init__("a", ["ok"])
        self.counts = list(counts)
        self.loaded = loaded
        self.counted = 0

    async def count_chat_prompt(self, request: ChatCompletionRequest) -> int:
        self.counted += 1
        if not self.loaded:
            raise BackendUnavailable("loading")
        return self.counts[0]

    async def count_completion_prompts(self, request: CompletionRequest) -> list[int]:
        self.counted += 1
        if not self.loaded:
            raise BackendUnavailable("loading")
        return self.counts


class SpyCounters(MemoryCounters):
    def __init__(self) -> None:
        super().__init__()
        self.reservations = 0

    async def reserve(
        self,
        charges: Sequence[WindowCharge],
        slots: Sequence[SlotClaim] = (),
        *,
        revocation_flag: str | None = None,
        seeded_marker: str | None = None,
    ) -> ReserveResult:
        self.reservations += 1
        return await super().reserve(
            charges, slots, revocation_flag=revocation_flag, seeded_marker=seeded_marker
        )


class World:
    def __init__(self, backend: ScriptedBackend) -> None:
        clock = FakeClock()
        self.backend = backend
        self.counters = SpyCounters()
        self.recorder = ListRecorder()
        metering = Metering(Admission(self.counters, clock), self.recorder, clock)
        router = Router(catalog_of(MODEL), {"a": backend}, clock)
        self.service = CompletionsService(router, metering, Attempts(clock))

    def untouched(self) -> bool:
        return (
            self.backend.calls == 0 and not self.recorder.events and not self.counters.reservations
        )


def test_only_engines_with_a_tokenizer_here_count_exactly() -> None:
    assert isinstance(CountingBackend([1]), PromptTokenizer)
    assert not isinstance(ScriptedBackend("a", []), PromptTokenizer)


async def test_exact_counts_refuse_before_admission_and_any_engine() -> None:
    world = World(CountingBackend([95]))
    with pytest.raises(ContextLengthExceeded) as caught:
        await world.service.chat(CTX, chat(max_tokens=6))
    assert "you requested 101 tokens (95 in the messages, 6 in the completion)" in str(caught.value)
    with pytest.raises(ContextLengthExceeded):
        await world.service.chat_stream(CTX, chat(stream=True, max_completion_tokens=6))
    assert world.untouched()
    assert await world.service.chat(CTX, chat(max_tokens=5))  # exactly 100 fits
    assert world.backend.calls == 1
    assert world.counters.reservations == 1


async def test_without_a_tokenizer_the_estimate_decides() -> None:
    world = World(ScriptedBackend("a", ["ok"]))
    with pytest.raises(ContextLengthExceeded) as caught:
        await world.service.chat(CTX, chat("abcdefgh" * 100))  # 100 tokens at least: no room
    assert "at least 100 tokens" in str(caught.value)
    assert world.untouched()
    await world.service.chat(CTX, chat("abcdefgh" * 99))
    assert world.backend.calls == 1


async def test_a_tokenizer_still_loading_falls_back_to_the_estimate() -> None:
    backend = CountingBackend([1000], loaded=False)
    world = World(backend)
    await world.service.chat(CTX, chat("short"))
    assert backend.counted == 1
    assert backend.calls == 1


async def test_a_too_large_output_limit_is_refused_before_admission() -> None:
    world = World(CountingBackend([5]))
    with pytest.raises(InvalidRequest) as caught:
        await world.service.chat(CTX, chat(max_completion_tokens=51))
    assert (caught.value.code, caught.value.param) == (
        "max_tokens_exceeded",
        "max_completion_tokens",
    )
    assert world.untouched()


async def test_every_prompt_of_a_batch_must_fit_with_the_default_sixteen_tokens() -> None:
    world = World(CountingBackend([10, 85]))
    with pytest.raises(ContextLengthExceeded) as caught:
        await world.service.complete(CTX, completion(["a", "b"]))
    assert caught.value.param == "prompt"
    assert "(85 in the prompt, 16 in the completion)" in str(caught.value)
    with pytest.raises(ContextLengthExceeded):
        await world.service.complete_stream(CTX, completion(["a", "b"], stream=True))
    assert world.untouched()
    world.backend.calls = 0
    with pytest.raises(NotImplementedError):  # admitted and sent on: the fake has no completions
        await world.service.complete(CTX, completion(["a", "b"], max_tokens=15))
    assert world.counters.reservations == 1
