"""Transcriptions: audio billed per started minute, released when nothing was heard, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmaas.adapters.memory.counters import MemoryCounters
from llmaas.domain.errors import InvalidRequest
from llmaas.domain.models import Capability, DeploymentSpec, ServedModel
from llmaas.domain.pricing import Prices
from llmaas.domain.principals import Principal
from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob, SpeechTask
from llmaas.domain.usage import Outcome
from llmaas.openai_schema.audio import Transcription, TranscriptionRequest
from llmaas.ports.speech import TranscriptEvent
from llmaas.services.admission import Admission
from llmaas.services.completions import RequestContext
from llmaas.services.failover import Attempts
from llmaas.services.metering import Metering
from llmaas.services.routing import Router
from llmaas.services.transcriptions import SpeechRequest, TranscriptionsService, audio_demand
from tests.unit.services.fakes import FakeClock, ListRecorder, ScriptedBackend
from tests.unit.services.test_completions import catalog_of

PRINCIPAL = Principal(key_id="k1", key_name="test", organization_id="acme")
PRICES = Prices(audio_per_minute=6_000)
MODEL = ServedModel(
    id="whisper",
    owned_by="t",
    created=0,
    context_length=448,
    capabilities=frozenset({Capability.AUDIO}),
    deployments=(DeploymentSpec("a", "fake"),),
    prices=PRICES,
)


class FakeRecognizer(ScriptedBackend):
    def __init__(self, duration_ms: int, texts: list[str], *, refuse: bool = False) -> None:
        super().__init__("a", [])
        self.duration_ms = duration_ms
        self.texts = texts
        self.refuse = refuse
        self.jobs: list[SpeechJob] = []

    async def transcribe(self, job: SpeechJob) -> AsyncIterator[TranscriptEvent]:
        self.jobs.append(job)
        if self.refuse:
            raise InvalidRequest("The audio file could not be decoded.", code="invalid_audio")
        yield AudioInfo(duration_ms=self.duration_ms, language="en")
        for i, text in enumerate(self.texts):
            yield Segment(i, i * 1000, (i + 1) * 1000, text)


class World:
    def __init__(self, backend: ScriptedBackend) -> None:
        self.recorder = ListRecorder()
        clock = FakeClock()
        self.admission = Admission(MemoryCounters(), clock)
        router = Router(catalog_of(MODEL), {"a": backend}, clock)
        metering = Metering(self.admission, self.recorder, clock)
        self.service = TranscriptionsService(router, metering, Attempts(clock))

    def ctx(self) -> RequestContext:
        return RequestContext(PRINCIPAL, request_id="r1")

    async def key_spend(self) -> int:
        await self.admission.drain()
        return (await self.admission.consumption(PRINCIPAL))["key.monthly_budget_micros"]


def speech(task: SpeechTask = SpeechTask.TRANSCRIBE, **fields: object) -> SpeechRequest:
    form = TranscriptionRequest.model_validate({"model": "whisper", **fields})
    return SpeechRequest(form, b"RIFF....", task)


@given(st.integers(0, 10**8))
def test_audio_is_billed_per_started_minute(milliseconds: int) -> None:
    minutes = -(-milliseconds // 60_000)
    assert PRICES.audio_cost(milliseconds) == minutes * 6_000


def test_the_reservation_bounds_the_duration_by_the_file_size() -> None:
    # 8 kbit/s: a 90 kB file holds at most 90 seconds, two started minutes.
    assert audio_demand(MODEL, 90_000).cost_micros == 12_000
    assert audio_demand(MODEL, 90_000).tokens == 0


async def test_a_transcription_is_charged_its_audio_duration() -> None:
    world = World(FakeRecognizer(61_000, [" Hello", " world."]))
    result = await world.service.transcribe(world.ctx(), speech())
    assert isinstance(result, Transcription)
    assert result.text == "Hello world."
    assert result.usage is not None and result.usage.seconds == 61.0
    event = world.recorder.events[0]
    assert (event.audio_ms, event.cost_micros, event.endpoint) == (
        61_000,
        12_000,
        "audio.transcribe",
    )
    assert event.outcome is Outcome.OK
    assert await world.key_spend() == 12_000


async def test_undecodable_audio_costs_nothing() -> None:
    world = World(FakeRecognizer(61_000, [], refuse=True))
    with pytest.raises(InvalidRequest):
        await world.service.transcribe(world.ctx(), speech())
    event = world.recorder.events[0]
    assert (event.audio_ms, event.cost_micros, event.outcome) == (0, 0, Outcome.FAILED)
    assert await world.key_spend() == 0


async def test_text_formats_and_word_timestamps_reach_the_engine() -> None:
    backend = FakeRecognizer(1_000, [" Hi."])
    world = World(backend)
    text = await world.service.transcribe(world.ctx(), speech(response_format="text"))
    assert text == "Hi.\n"
    await world.service.transcribe(
        world.ctx(),
        speech(response_format="verbose_json", timestamp_granularities=["word"], language="fr"),
    )
    assert [job.word_timestamps for job in backend.jobs] == [False, True]
    assert backend.jobs[1].language == "fr"


async def test_a_stream_sends_deltas_then_done_and_is_billed() -> None:
    world = World(FakeRecognizer(30_000, [" One.", " Two."]))
    events = await world.service.transcribe_stream(world.ctx(), speech(stream=True))
    received = [event async for event in events]
    types = [getattr(e, "type", "") for e in received]
    assert types == ["transcript.text.delta", "transcript.text.delta", "transcript.text.done"]
    assert getattr(received[-1], "text", "") == "One. Two."
    event = world.recorder.events[0]
    assert (event.audio_ms, event.cost_micros, event.streamed) == (30_000, 6_000, True)


async def test_a_client_gone_mid_stream_still_pays_for_the_audio() -> None:
    world = World(FakeRecognizer(30_000, [" One.", " Two.", " Three."]))
    events = await world.service.transcribe_stream(world.ctx(), speech(stream=True))
    await anext(events)
    await events.aclose()
    event = world.recorder.events[0]
    assert event.outcome is Outcome.FAILED or event.outcome is Outcome.CLIENT_DISCONNECTED
    assert event.cost_micros == 6_000


async def test_a_model_that_cannot_hear_is_refused() -> None:
    world = World(ScriptedBackend("a", ["x"]))
    with pytest.raises(InvalidRequest):
        await world.service.transcribe(world.ctx(), speech())
