"""A recording decoded as it is read and handed out in pieces cut on silences.

faster-whisper's own path decodes a whole file, then computes the mel features of all of it at once:
for ten minutes that is 38 MB of samples and over 100 MB of spectrogram, and it grows with the length.
Here PyAV decodes frame by frame, and every :data:`PIECE_SECONDS` of sound the Silero VAD (shipped in
faster-whisper's wheel) finds the last pause in the piece's tail, where the piece is cut: no word is
split, and memory holds one piece, whatever the recording's length.

The duration is measured first by a pass that decodes without keeping anything: billing needs it
before the first segment is sent, and that pass also finds an undecodable file before any work.
"""

from __future__ import annotations

import gc
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from av.audio.resampler import AudioResampler
from faster_whisper.vad import VadOptions, get_speech_timestamps

from llmaas.domain.errors import InvalidRequest

SAMPLE_RATE = 16_000
PIECE_SECONDS = 120
"""Sound gathered before a cut is looked for: four of Whisper's 30-second windows."""
SEARCH_SECONDS = 30
"""How far back from a piece's end the VAD looks for a pause to cut on."""
MIN_TRAILING_PAUSE_MS = 1000
"""A pause at the very end of a piece shorter than this may be a word the VAD has not yet heard."""

_UNDECODABLE = (av.error.FFmpegError, IndexError, ValueError)
_FORMATS = "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav and webm"


@dataclass(frozen=True, slots=True)
class Piece:
    offset_seconds: float
    """Where the piece starts in the recording: what its segments' times are shifted by."""
    samples: Any
    """Mono 16 kHz float32 samples (a NumPy array)."""


def duration_ms(audio: bytes) -> int:
    """The recording's length, decoded but not kept; 400 for a file that is not sound."""
    seconds = 0.0
    try:
        with av.open(io.BytesIO(audio), mode="r", metadata_errors="ignore") as container:
            for frame in _valid(container.decode(audio=0)):
                seconds += frame.samples / frame.sample_rate
    except _UNDECODABLE as error:
        raise _undecodable() from error
    if seconds <= 0:
        raise InvalidRequest("The audio file holds no sound.", param="file", code="invalid_audio")
    return round(seconds * 1000)


def pieces(
    audio: bytes, *, min_silence_ms: int, piece_seconds: int = PIECE_SECONDS
) -> Iterator[Piece]:
    """The recording in pieces of at most ``piece_seconds``, each cut in a pause where there is one."""
    options = VadOptions(min_silence_duration_ms=min_silence_ms)
    limit = piece_seconds * SAMPLE_RATE
    offset = 0
    pending: list[Any] = []
    held = 0
    for chunk in _decoded(audio):
        pending.append(chunk)
        held += len(chunk)
        if held < limit:
            continue
        buffer = np.concatenate(pending)
        cut = _cut(buffer, options)
        yield Piece(offset / SAMPLE_RATE, buffer[:cut])
        # PyAV's frames and resampler hold native buffers in reference cycles: freed only by a
        # collection, which would otherwise come late and let a long file's garbage pile up.
        gc.collect()
        # A copy, so the piece just handed out can be freed while the rest waits for more sound.
        rest = buffer[cut:].copy()
        offset += cut
        pending, held = [rest], len(rest)
    if held:
        yield Piece(offset / SAMPLE_RATE, np.concatenate(pending))


def _cut(buffer: Any, options: VadOptions) -> int:
    """Where to end this piece: in the last pause of its tail, or at its end when speech never stops."""
    tail_start = max(0, len(buffer) - SEARCH_SECONDS * SAMPLE_RATE)
    tail = buffer[tail_start:]
    speech = get_speech_timestamps(tail, options)
    if not speech:
        return len(buffer)
    last_end = int(speech[-1]["end"])
    if len(tail) - last_end >= MIN_TRAILING_PAUSE_MS * SAMPLE_RATE // 1000:
        return tail_start + (last_end + len(tail)) // 2
    if len(speech) >= 2:
        return tail_start + (int(speech[-2]["end"]) + int(speech[-1]["start"])) // 2
    return len(buffer)


def _decoded(audio: bytes) -> Iterator[Any]:
    """Float32 samples as PyAV decodes and resamples them, a few hundred milliseconds at a time."""
    resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(audio), mode="r", metadata_errors="ignore") as container:
            for frame in itertools.chain(_valid(container.decode(audio=0)), [None]):
                if frame is not None:
                    frame.pts = None  # resample by count, not by each frame's claimed time
                for resampled in resampler.resample(frame):
                    yield resampled.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
    except _UNDECODABLE as error:
        raise _undecodable() from error


def _valid(frames: Iterable[Any]) -> Iterator[Any]:
    """Frames that decode, skipping damaged ones as faster-whisper does."""
    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _undecodable() -> InvalidRequest:
    return InvalidRequest(
        f"The audio file could not be decoded; supported formats are {_FORMATS}.",
        param="file",
        code="invalid_audio",
    )
