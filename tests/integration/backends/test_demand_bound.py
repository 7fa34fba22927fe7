"""The prompt bound admission reserves is never below what the real engines count.

``services/demand.py`` bounds a chat prompt's tokens by the size of its JSON body. This checks the
claim with the embedded models' real tokenizers and chat templates, on the most compact body a client
can send (no spaces, UTF-8 text unescaped): mixed scripts, emoji, control characters and whitespace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmaas.adapters.model_config import load_models
from llmaas.app import build_backends
from llmaas.domain.models import ServedModel
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.ports.backends import InferenceBackend
from llmaas.services.demand import chat_demand
from llmaas.settings import Settings

CHAT_MODELS = ("smollm2:135m", "qwen2.5-coder:0.5b")

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=120)
messages = st.lists(
    st.tuples(st.sampled_from(["system", "user", "assistant"]), text), min_size=1, max_size=4
).map(
    lambda items: [*({"role": r, "content": c} for r, c in items), {"role": "user", "content": "."}]
)


@dataclass
class Engines:
    """The embedded chat engines, driven from a loop of their own (Hypothesis runs sync tests)."""

    loop: asyncio.AbstractEventLoop
    served: dict[str, tuple[ServedModel, InferenceBackend]]

    def prompt_tokens(self, model_id: str, request: ChatCompletionRequest) -> int:
        _, backend = self.served[model_id]
        answer = self.loop.run_until_complete(backend.chat(request))
        assert answer.usage is not None
        return answer.usage.prompt_tokens


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    models = [m for m in load_models(None) if m.id in CHAT_MODELS]
    backends = build_backends(Settings(engine_threads=2), models)
    loop = asyncio.new_event_loop()
    for backend in backends.values():
        loop.run_until_complete(backend.start())
    try:
        yield Engines(loop, {m.id: (m, backends[m.deployments[0].name]) for m in models})
    finally:
        for backend in backends.values():
            loop.run_until_complete(backend.close())
        loop.close()


@pytest.mark.parametrize("model_id", CHAT_MODELS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(conversation=messages)
def test_the_body_bound_covers_the_counted_prompt(
    engines: Engines, model_id: str, conversation: list[dict[str, str]]
) -> None:
    model, _ = engines.served[model_id]
    body = {"model": model.id, "messages": conversation, "max_tokens": 1}
    compact = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    request = ChatCompletionRequest.model_validate(body)
    bound = chat_demand(model, request, len(compact))
    assert engines.prompt_tokens(model_id, request) <= bound.prompt_tokens
