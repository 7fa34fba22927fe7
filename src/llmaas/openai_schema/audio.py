"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``: the form fields and the bodies.

The request is ``multipart/form-data`` (the file plus text fields); the edge reads the form and builds
:class:`TranscriptionRequest` from its text fields, so validation and error messages match the JSON
endpoints'. ``json`` and ``verbose_json`` are the objects below; ``text``, ``srt`` and ``vtt`` are
plain text rendered by ``openai_schema/subtitles.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from llmaas.domain.transcripts import Segment, Transcript, Word
from llmaas.openai_schema.base import WireObject, WireRequest, omitted_if_none

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]
_SEGMENTS: list[Granularity] = ["segment"]


class TranscriptionRequest(WireRequest):
    model: str
    language: Annotated[str, Field(min_length=2, max_length=3)] | None = None
    prompt: str | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] = 0.0
    response_format: ResponseFormat = "json"
    timestamp_granularities: list[Granularity] = Field(default_factory=lambda: _SEGMENTS.copy())
    stream: bool = False


class DurationUsage(WireObject):
    """OpenAI's usage object for audio billed by duration."""

    type: Literal["duration"] = "duration"
    seconds: float


class TranscriptionWord(WireObject):
    word: str
    start: float
    end: float

    @classmethod
    def from_domain(cls, word: Word) -> TranscriptionWord:
        return cls(word=word.text.strip(), start=word.start_ms / 1000, end=word.end_ms / 1000)


class TranscriptionSegment(WireObject):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float

    @classmethod
    def from_domain(cls, segment: Segment) -> TranscriptionSegment:
        return cls(
            id=segment.index,
            seek=segment.start_ms // 10,
            start=segment.start_ms / 1000,
            end=segment.end_ms / 1000,
            text=segment.text,
            tokens=list(segment.tokens),
            temperature=segment.temperature,
            avg_logprob=segment.avg_logprob,
            compression_ratio=segment.compression_ratio,
            no_speech_prob=segment.no_speech_prob,
        )


class Transcription(WireObject):
    """The ``json`` format."""

    text: str
    usage: DurationUsage | None = omitted_if_none()


class TranscriptionVerbose(WireObject):
    """The ``verbose_json`` format: words only when ``timestamp_granularities`` asks for them."""

    task: Literal["transcribe", "translate"] = "transcribe"
    language: str
    duration: float
    text: str
    segments: list[TranscriptionSegment] | None = omitted_if_none()
    words: list[TranscriptionWord] | None = omitted_if_none()
    usage: DurationUsage | None = omitted_if_none()

    @classmethod
    def from_domain(
        cls,
        transcript: Transcript,
        granularities: list[Granularity],
        task: Literal["transcribe", "translate"],
    ) -> TranscriptionVerbose:
        segments = transcript.segments
        return cls(
            task=task,
            language=_language_name(transcript.info.language),
            duration=transcript.info.duration_ms / 1000,
            text=transcript.text,
            segments=[TranscriptionSegment.from_domain(s) for s in segments]
            if "segment" in granularities
            else None,
            words=[TranscriptionWord.from_domain(w) for s in segments for w in s.words]
            if "word" in granularities
            else None,
            usage=DurationUsage(seconds=transcript.info.duration_ms / 1000),
        )


class TranscriptTextDelta(WireObject):
    """A ``stream=true`` event: text as it is recognised (one Whisper segment at a time)."""

    type: Literal["transcript.text.delta"] = "transcript.text.delta"
    delta: str


class TranscriptTextDone(WireObject):
    """The last ``stream=true`` event: the whole text and what it is billed for."""

    type: Literal["transcript.text.done"] = "transcript.text.done"
    text: str
    usage: DurationUsage | None = omitted_if_none()


_LANGUAGES = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}


def _language_name(code: str) -> str:
    """OpenAI's ``verbose_json`` names the language in English words (``"french"``)."""
    return _LANGUAGES.get(code, code)
