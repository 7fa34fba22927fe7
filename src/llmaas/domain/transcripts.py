"""What speech recognition produces, independent of any engine or wire format.

Times are integer milliseconds: subtitle formats are millisecond-precise, and billing counts whole
milliseconds of audio, so floats never have to be rounded twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SpeechTask(StrEnum):
    TRANSCRIBE = "transcribe"
    TRANSLATE = "translate"
    """Into English, whatever the spoken language (Whisper's only translation target)."""


@dataclass(frozen=True, slots=True)
class SpeechJob:
    """One recognition request as an engine sees it: the encoded file, never a path."""

    audio: bytes
    model: str = ""
    """The model the client named: what a remote engine is asked for, unless renamed upstream."""
    task: SpeechTask = SpeechTask.TRANSCRIBE
    language: str | None = None
    prompt: str | None = None
    temperature: float = 0.0
    word_timestamps: bool = False


@dataclass(frozen=True, slots=True)
class Word:
    start_ms: int
    end_ms: int
    text: str
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    temperature: float = 0.0
    tokens: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """Known once the file is decoded, before the first segment: it is what billing counts."""

    duration_ms: int
    language: str


@dataclass(frozen=True, slots=True)
class Transcript:
    info: AudioInfo
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments).strip()
