"""The embedded speech engine: Whisper in CTranslate2 format on faster-whisper, decoded with PyAV.

faster-whisper recognises lazily: its segment generator does the work of each 30-second window only
when asked for the next segment. Each ``next`` runs on the model's worker thread, so a stream relays a
segment as soon as it exists. A recording is fed to it in pieces of two minutes cut on pauses
(:mod:`.audio_pieces`), because faster-whisper computes the features of all it is given at once: memory
stays the same for a one-minute call and a two-hour meeting. Inside a piece, silences are cut out by the
Silero VAD that faster-whisper ships (an ONNX file in its wheel, never downloaded), which keeps windows
on speech and the hallucinations of silence away. The language heard in the first piece is the one the
others are decoded in.

A model directory needs ``model.bin``, ``config.json``, ``tokenizer.json`` and ``vocabulary.txt``:
without ``tokenizer.json`` faster-whisper would fetch one from a hub at run time, so all four are
required. Files from several packages (a reassembled ``model.bin`` next to files shipped whole) are
linked into one directory under the model cache.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faster_whisper import WhisperModel

from llmaas.adapters.backends.local.audio_pieces import PIECE_SECONDS, Piece, duration_ms, pieces
from llmaas.adapters.backends.local.weights import Progress, WeightsError, WeightsSource
from llmaas.adapters.backends.local.worker import ModelWorker
from llmaas.adapters.backends.unsupported import NoEmbeddings, NoGeneration
from llmaas.domain.errors import BackendUnavailable, InvalidRequest
from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob, SpeechTask, Word
from llmaas.ports.speech import TranscriptEvent

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True, slots=True)
class FasterWhisperOptions:
    files: Mapping[str, WeightsSource]
    """Each of :data:`MODEL_FILES` and where it comes from."""
    directory: str
    """Name of the directory under ``cache_dir`` where files from several places are gathered."""
    cache_dir: Path
    threads: int = 2
    compute_type: str = "int8"
    beam_size: int = 5
    vad_filter: bool = True
    vad_min_silence_ms: int = 500
    piece_seconds: int = PIECE_SECONDS


class FasterWhisperBackend(NoGeneration, NoEmbeddings):
    def __init__(self, name: str, options: FasterWhisperOptions) -> None:
        missing = [f for f in MODEL_FILES if f not in options.files]
        if missing:
            raise WeightsError(f"deployment '{name}' needs the files {', '.join(missing)}")
        self._name = name
        self._options = options
        self._worker = ModelWorker(name)
        self._model: WhisperModel | None = None

    @property
    def name(self) -> str:
        return self._name

    def prepare(self, progress: Progress | None = None) -> Path:
        """The model directory, reassembling and linking files on the first start only."""
        gathered = self._options.cache_dir / self._options.directory
        paths = {
            name: source.resolve(gathered, progress) for name, source in self._options.files.items()
        }
        parents = {path.parent for path in paths.values()}
        if len(parents) == 1 and all(path.name == name for name, path in paths.items()):
            return parents.pop()
        gathered.mkdir(parents=True, exist_ok=True)
        for name, path in paths.items():
            link = gathered / name
            if link.resolve() != path.resolve():
                link.unlink(missing_ok=True)
                link.symlink_to(path.resolve())
        return gathered

    async def start(self) -> None:
        directory = self.prepare()
        options = self._options
        self._model = await self._worker.run(
            lambda: WhisperModel(
                str(directory),
                device="cpu",
                compute_type=options.compute_type,
                cpu_threads=options.threads,
                num_workers=1,
                local_files_only=True,
            )
        )

    async def close(self) -> None:
        self._model = None
        self._worker.shutdown()

    async def is_healthy(self) -> bool:
        return self._model is not None

    async def transcribe(self, job: SpeechJob) -> AsyncIterator[TranscriptEvent]:
        model = self._ready()
        _check_language(model, job.language)
        segments, info = await self._worker.run(lambda: self._open(model, job))
        yield info
        while (segment := await self._worker.run(lambda: next(segments, None))) is not None:
            yield segment

    def _open(self, model: WhisperModel, job: SpeechJob) -> tuple[Iterator[Segment], AudioInfo]:
        duration = duration_ms(job.audio)
        recording = pieces(
            job.audio,
            min_silence_ms=self._options.vad_min_silence_ms,
            piece_seconds=self._options.piece_seconds,
        )
        first = next(recording)
        raw, info = self._recognise(model, job, first, job.language)
        language = job.language or str(info.language)
        following = (self._recognise(model, job, piece, language)[0] for piece in recording)
        segments = _numbered(itertools.chain([raw], following))
        return segments, AudioInfo(duration_ms=duration, language=language)

    def _recognise(
        self, model: WhisperModel, job: SpeechJob, piece: Piece, language: str | None
    ) -> tuple[Iterator[Segment], Any]:
        options = self._options
        raw, info = model.transcribe(
            piece.samples,
            language=language,
            task=job.task.value if model.model.is_multilingual else SpeechTask.TRANSCRIBE.value,
            beam_size=options.beam_size,
            temperature=job.temperature if job.temperature > 0 else _FALLBACK_TEMPERATURES,
            initial_prompt=job.prompt,
            word_timestamps=job.word_timestamps,
            vad_filter=options.vad_filter,
            # Each window is decoded on its own: conditioning on the previous window's text lets one
            # misheard window repeat itself through a long recording (Whisper's looping failure).
            condition_on_previous_text=False,
            vad_parameters={"min_silence_duration_ms": options.vad_min_silence_ms},
        )
        return _segments(raw, piece.offset_seconds), info

    def _ready(self) -> WhisperModel:
        if self._model is None:
            raise BackendUnavailable(f"The deployment '{self._name}' is not loaded.")
        return self._model


_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""OpenAI's meaning of ``temperature=0``: greedy, raised step by step when decoding fails."""


def _check_language(model: WhisperModel, language: str | None) -> None:
    if language is not None and language not in model.supported_languages:
        raise InvalidRequest(
            f"Unsupported language '{language}' (ISO-639-1 codes such as 'en' or 'fr').",
            param="language",
            code="unsupported_language",
        )


def _segments(raw: Any, offset: float) -> Iterator[Segment]:
    """One piece's segments, their times shifted to the recording's (numbered later)."""
    for segment in raw:
        words = tuple(
            Word(_ms(offset + w.start), _ms(offset + w.end), str(w.word), float(w.probability))
            for w in segment.words or ()
        )
        yield Segment(
            index=0,
            start_ms=_ms(offset + segment.start),
            end_ms=_ms(offset + segment.end),
            text=str(segment.text),
            words=words,
            avg_logprob=float(segment.avg_logprob),
            compression_ratio=float(segment.compression_ratio),
            no_speech_prob=float(segment.no_speech_prob),
            temperature=float(segment.temperature or 0.0),
            tokens=tuple(int(t) for t in segment.tokens),
        )


def _numbered(pieces: Iterator[Iterator[Segment]]) -> Iterator[Segment]:
    index = 0
    for segments in pieces:
        for segment in segments:
            yield dataclasses.replace(segment, index=index)
            index += 1


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
