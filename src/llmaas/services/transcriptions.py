"""Speech to text: authenticate (at the edge) -> admit -> route -> call backend -> render -> meter.

Audio is billed by its duration (per started minute, ``domain/pricing.py``), which only the engine
knows once it has decoded the file; admission therefore reserves a bound computed from the file's size
(:func:`audio_demand`) and settlement charges the real duration. A stream's first event is the decoded
file's :class:`AudioInfo`, so an undecodable file or an engine that is down still gets a proper HTTP
error, and the duration is metered even if the client leaves before the last segment.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Literal

from llmaas.domain.errors import BackendUnavailable, InvalidRequest
from llmaas.domain.models import Capability, ServedModel
from llmaas.domain.quotas import Demand
from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob, SpeechTask, Transcript
from llmaas.domain.usage import Outcome, TokenUsage
from llmaas.openai_schema.audio import (
    DurationUsage,
    Transcription,
    TranscriptionRequest,
    TranscriptionVerbose,
    TranscriptTextDelta,
    TranscriptTextDone,
)
from llmaas.openai_schema.base import WireObject
from llmaas.openai_schema.subtitles import to_srt, to_vtt
from llmaas.ports.backends import InferenceBackend
from llmaas.ports.speech import SpeechRecognizer, TranscriptEvent
from llmaas.services.completions import RequestContext
from llmaas.services.failover import Attempts, aclose_stream
from llmaas.services.fleet import Deployment
from llmaas.services.metering import Meter, Metering
from llmaas.services.routing import Route, Router

MIN_BYTES_PER_SECOND = 1000
"""The lowest bitrate a speech file can have and still be intelligible (8 kbit/s): the bound on the
duration of a file of a given size that admission reserves for."""

Rendered = WireObject | str
"""A JSON object (``json``, ``verbose_json``) or plain text (``text``, ``srt``, ``vtt``)."""


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    """One form as the edge parsed it: the text fields and the file's bytes."""

    fields: TranscriptionRequest
    audio: bytes
    task: SpeechTask = SpeechTask.TRANSCRIBE

    def job(self) -> SpeechJob:
        fields = self.fields
        return SpeechJob(
            audio=self.audio,
            model=fields.model,
            task=self.task,
            language=fields.language,
            prompt=fields.prompt,
            temperature=fields.temperature,
            word_timestamps=fields.response_format == "verbose_json"
            and "word" in fields.timestamp_granularities,
        )


def audio_demand(model: ServedModel, audio_bytes: int) -> Demand:
    seconds = -(-audio_bytes // MIN_BYTES_PER_SECOND)
    return Demand(0, 0, model.prices.audio_cost(seconds * 1000))


class TranscriptionsService:
    def __init__(self, router: Router, metering: Metering, attempts: Attempts) -> None:
        self._router = router
        self._metering = metering
        self._attempts = attempts

    async def transcribe(self, ctx: RequestContext, request: SpeechRequest) -> Rendered:
        route, meter = await self._admit(ctx, request)
        try:
            transcript, deployment = await self._attempts.call(
                route, lambda b: _collect(_recognizer(b).transcribe(request.job()))
            )
            ctx.served_by(deployment)
            meter.deployment = deployment.name
            meter.audio_ms = transcript.info.duration_ms
            meter.outcome = Outcome.OK
            return render(transcript, request)
        finally:
            meter.finish()

    async def transcribe_stream(
        self, ctx: RequestContext, request: SpeechRequest
    ) -> AsyncGenerator[WireObject, None]:
        """Opens the engine's stream before returning, so failures before the first byte are HTTP
        errors; the generator returned relays the rest and settles the meter however it ends."""
        route, meter = await self._admit(ctx, request)
        try:
            opened = await self._attempts.open_stream(
                route, lambda b: _recognizer(b).transcribe(request.job())
            )
        except BaseException:
            meter.finish()
            raise
        ctx.served_by(opened.deployment)
        meter.deployment = opened.deployment.name
        if not isinstance(opened.first, AudioInfo):
            await aclose_stream(opened.rest)
            self._attempts.finished(opened.deployment, BackendUnavailable("no audio info"))
            meter.finish()
            raise BackendUnavailable(f"The deployment '{meter.deployment}' sent no audio info.")
        meter.audio_ms = opened.first.duration_ms
        return self._relay(meter, opened.rest, opened.deployment)

    async def _relay(
        self, meter: Meter, rest: AsyncIterator[TranscriptEvent], deployment: Deployment
    ) -> AsyncGenerator[WireObject, None]:
        error: BaseException | None = None
        texts: list[str] = []
        try:
            async for event in rest:
                if isinstance(event, Segment):
                    texts.append(event.text)
                    meter.output_started()
                    yield TranscriptTextDelta(delta=event.text)
            meter.outcome = Outcome.OK
            yield TranscriptTextDone(
                text="".join(texts).strip(), usage=DurationUsage(seconds=meter.audio_ms / 1000)
            )
        except BaseException as failure:
            error = failure
            # Text already sent means the audio was heard: it is charged (see Meter._audio_consumed).
            meter.outcome = Outcome.CLIENT_DISCONNECTED if texts else Outcome.FAILED
            raise
        finally:
            await aclose_stream(rest)
            self._attempts.finished(deployment, error)
            meter.finish()

    async def _admit(self, ctx: RequestContext, request: SpeechRequest) -> tuple[Route, Meter]:
        route = ctx.route = self._router.resolve(
            ctx.principal, request.fields.model, Capability.AUDIO
        )
        if request.task is SpeechTask.TRANSLATE and request.fields.stream:
            raise InvalidRequest("Streaming is not available for translations.", param="stream")
        endpoint = f"audio.{request.task.value}"
        meter = await self._metering.admit(
            ctx.principal,
            ctx.request_id,
            route.model,
            endpoint,
            audio_demand(route.model, len(request.audio)),
            streamed=request.fields.stream,
        )
        ctx.rate_limits = meter.reservation.status
        meter.usage = TokenUsage()  # audio is billed by duration: no token is ever charged
        return route, meter


def _recognizer(backend: InferenceBackend) -> SpeechRecognizer:
    if not isinstance(backend, SpeechRecognizer):
        raise InvalidRequest(
            f"The deployment '{backend.name}' cannot transcribe audio.", param="model"
        )
    return backend


async def _collect(events: AsyncIterator[TranscriptEvent]) -> Transcript:
    info: AudioInfo | None = None
    segments: list[Segment] = []
    async for event in events:
        if isinstance(event, AudioInfo):
            info = event
        else:
            segments.append(event)
    if info is None:
        raise BackendUnavailable("The speech engine sent no audio info.")
    return Transcript(info=info, segments=tuple(segments))


def render(transcript: Transcript, request: SpeechRequest) -> Rendered:
    fields = request.fields
    task: Literal["transcribe", "translate"] = (
        "translate" if request.task is SpeechTask.TRANSLATE else "transcribe"
    )
    match fields.response_format:
        case "text":
            return transcript.text + "\n"
        case "srt":
            return to_srt(transcript.segments)
        case "vtt":
            return to_vtt(transcript.segments)
        case "verbose_json":
            return TranscriptionVerbose.from_domain(
                transcript, fields.timestamp_granularities, task
            )
        case _:
            seconds = transcript.info.duration_ms / 1000
            return Transcription(text=transcript.text, usage=DurationUsage(seconds=seconds))
