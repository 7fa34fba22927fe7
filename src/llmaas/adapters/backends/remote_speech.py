"""Speech to text on a remote engine (vLLM, a Whisper server): the OpenAI multipart form out,
``verbose_json`` back, turned into the same :class:`AudioInfo` + :class:`Segment` events the embedded
engine yields. ``verbose_json`` is always asked for, whatever the client wanted: only it carries the
duration that billing needs and the segments the gateway renders as text, SRT or VTT itself.
"""

from __future__ import annotations

import aiohttp
from pydantic import BaseModel, ConfigDict

from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob, SpeechTask, Word
from llmaas.ports.speech import TranscriptEvent


class _Lax(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RemoteWord(_Lax):
    word: str
    start: float
    end: float


class RemoteSegment(_Lax):
    id: int = 0
    start: float
    end: float
    text: str
    tokens: list[int] = []
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


class RemoteTranscription(_Lax):
    text: str = ""
    language: str = ""
    duration: float = 0.0
    segments: list[RemoteSegment] | None = None
    words: list[RemoteWord] | None = None


def speech_path(job: SpeechJob) -> str:
    return "/audio/translations" if job.task is SpeechTask.TRANSLATE else "/audio/transcriptions"


def speech_form(job: SpeechJob, model: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", job.audio, filename="audio", content_type="application/octet-stream")
    form.add_field("model", model)
    form.add_field("response_format", "verbose_json")
    form.add_field("temperature", str(job.temperature))
    for granularity in ("segment", "word") if job.word_timestamps else ("segment",):
        form.add_field("timestamp_granularities[]", granularity)
    if job.language and job.task is SpeechTask.TRANSCRIBE:
        form.add_field("language", job.language)
    if job.prompt:
        form.add_field("prompt", job.prompt)
    return form


def transcript_events(answer: RemoteTranscription) -> list[TranscriptEvent]:
    words = [Word(_ms(w.start), _ms(w.end), " " + w.word.strip()) for w in answer.words or ()]
    events: list[TranscriptEvent] = [
        AudioInfo(duration_ms=_ms(answer.duration), language=answer.language)
    ]
    segments = answer.segments or [RemoteSegment(start=0.0, end=answer.duration, text=answer.text)]
    for index, segment in enumerate(segments):
        start, end = _ms(segment.start), _ms(segment.end)
        events.append(
            Segment(
                index=index,
                start_ms=start,
                end_ms=end,
                text=segment.text,
                words=tuple(w for w in words if start <= w.start_ms < end),
                avg_logprob=segment.avg_logprob,
                compression_ratio=segment.compression_ratio,
                no_speech_prob=segment.no_speech_prob,
                temperature=segment.temperature,
                tokens=tuple(segment.tokens),
            )
        )
    return events


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
