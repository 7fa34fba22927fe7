"""The completions pipeline: failover, usage forcing, and metering that survives disconnects."""

from __future__ import annotations

from datetime import date

import pytest

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.catalog import Catalog
from llmaas.domain.errors import BackendUnavailable, InvalidRequest, ModelNotFound
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.principals import Principal
from llmaas.domain.usage import Outcome
from llmaas.openai_schema.chat import ChatCompletionRequest
from llmaas.services.admission import Admission
from llmaas.services.completions import CompletionsService, RequestContext
from llmaas.services.failover import Attempts
from llmaas.services.metering import Metering
from llmaas.services.routing import Router
from tests.unit.services.fakes import FakeClock, ListRecorder, ScriptedBackend

MODEL = ServedModel(
    id="m",
    owned_by="t",
    created=0,
    context_length=100,
    capabilities=frozenset({Capability.CHAT}),
    deployments=(DeploymentSpec("a", "fake"), DeploymentSpec("b", "fake")),
)
CTX = RequestContext(Principal(key_id="k1", key_name="test"), request_id="r1")


def request(**fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def build(a: ScriptedBackend, b: ScriptedBackend) -> tuple[CompletionsService, ListRecorder]:
    recorder = ListRecorder()
    clock = FakeClock()
    router = Router(catalog_of(MODEL), {"a": a, "b": b}, clock)
    metering = Metering(Admission(MemoryCounters(), clock), recorder, clock)
    return CompletionsService(router, metering, Attempts(clock)), recorder


def catalog_of(*models: ServedModel) -> Catalog:
    return Catalog(models=models, reviewed_on=date(2026, 1, 1))


async def test_a_down_deployment_fails_over_to_the_next() -> None:
    a, b = ScriptedBackend("a", ["x"], down=True), ScriptedBackend("b", ["hello"])
    service, recorder = build(a, b)
    answers = [await service.chat(CTX, request()) for _ in range(2)]
    assert all(r.choices[0].message.content == "hello" for r in answers)
    assert all(r.model == "m" for r in answers)  # the public id, not the engine's name
    assert [e.deployment for e in recorder.events] == ["b", "b"]
    assert a.calls >= 1


async def test_all_deployments_down_is_backend_unavailable_and_still_metered() -> None:
    service, recorder = build(
        ScriptedBackend("a", [], down=True), ScriptedBackend("b", [], down=True)
    )
    with pytest.raises(BackendUnavailable):
        await service.chat(CTX, request())
    with pytest.raises(BackendUnavailable):
        await service.chat_stream(CTX, request(stream=True))
    assert [e.outcome for e in recorder.events] == [Outcome.FAILED, Outcome.FAILED]


async def test_streams_always_ask_for_usage_and_hide_it_unless_asked() -> None:
    a = ScriptedBackend("a", ["he", "llo"])
    service, recorder = build(a, ScriptedBackend("b", ["?"]))
    chunks = [c async for c in await service.chat_stream(CTX, request(stream=True))]
    assert a.seen[0].stream_options is not None
    assert a.seen[0].stream_options.include_usage is True
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hello"
    assert recorder.events[0].usage.completion_tokens == 2
    assert recorder.events[0].outcome is Outcome.OK

    with_usage = [
        c
        async for c in await service.chat_stream(
            CTX, request(stream=True, stream_options={"include_usage": True})
        )
    ]
    assert with_usage[-1].usage is not None


async def test_a_client_that_leaves_mid_stream_is_metered_and_the_engine_released() -> None:
    a = ScriptedBackend("a", ["one", "two", "three", "four"], report_usage=False)
    service, recorder = build(a, ScriptedBackend("b", []))
    stream = await service.chat_stream(CTX, request(stream=True))
    received = [await anext(stream), await anext(stream)]
    await stream.aclose()  # what Starlette does when the client disconnects
    assert len(received) == 2
    assert a.closed_streams == 1
    (event,) = recorder.events
    assert event.outcome is Outcome.CLIENT_DISCONNECTED
    assert event.usage.completion_tokens == 2  # counted from what was streamed


async def test_features_the_model_lacks_are_refused_before_any_engine_call() -> None:
    a = ScriptedBackend("a", ["x"])
    service, _ = build(a, ScriptedBackend("b", ["x"]))
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(InvalidRequest) as caught:
        await service.chat(CTX, request(tools=[tool]))
    assert caught.value.param == "tools"
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    with pytest.raises(InvalidRequest):
        await service.chat(CTX, request(messages=[{"role": "user", "content": image}]))
    with pytest.raises(InvalidRequest) as caught:
        await service.chat(CTX, request(tool_choice="auto"))
    assert caught.value.param == "tool_choice"
    assert a.calls == 0


async def test_keys_only_see_their_models() -> None:
    service, _ = build(ScriptedBackend("a", ["x"]), ScriptedBackend("b", ["x"]))
    restricted = RequestContext(
        Principal(key_id="k2", key_name="r", allowed_models=frozenset({"other"})), "r2"
    )
    with pytest.raises(ModelNotFound):
        await service.chat(restricted, request())


async def test_engine_specific_stream_options_are_kept() -> None:
    a = ScriptedBackend("a", ["x"])
    service, _ = build(a, ScriptedBackend("b", ["x"]))
    options = {"include_usage": False, "continuous_usage_stats": True}
    stream = await service.chat_stream(CTX, request(stream=True, stream_options=options))
    chunks = [c async for c in stream]
    sent = a.seen[0].stream_options
    assert sent is not None
    assert sent.include_usage is True
    assert sent.model_extra == {"continuous_usage_stats": True}
    assert all(c.usage is None for c in chunks)  # the client said no
