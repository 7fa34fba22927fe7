"""Speech made on the spot by Debian's espeak-ng, and the word error rate of a transcript.

espeak-ng is a system package that ``make test`` installs; a missing one fails the tests that need it
(never skips them), since speech recognition would otherwise go untested in CI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import av

ESPEAK = "espeak-ng"


def espeak() -> str:
    path = shutil.which(ESPEAK)
    if path is None:
        raise RuntimeError(
            "espeak-ng is not installed: run 'make test' (or apt-get install espeak-ng)"
        )
    return path


def speak(text: str, voice: str, path: Path, *, words_per_minute: int = 160) -> Path:
    subprocess.run(
        [espeak(), "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def long_recording(clips: Sequence[Path], path: Path, *, seconds: int, every: int = 20) -> Path:
    """A ``seconds``-long WAV: the ``clips`` in turn, one every ``every`` seconds, silence in between
    (a meeting's pauses, which the engine's VAD cuts on). Several different sentences, because one
    sentence repeated back to back (which is what the VAD makes of it) is not speech Whisper is
    trained on: it collapses the repeats and stops early."""
    slots = []
    params = None
    for clip in clips:
        with wave.open(str(clip), "rb") as source:
            params = source.getparams()
            frames = source.readframes(source.getnframes())
        slot = every * params.framerate * params.sampwidth * params.nchannels
        slots.append(frames[:slot] + b"\x00" * max(0, slot - len(frames)))
    assert params is not None, "no clip"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        for index in range(seconds // every):
            out.writeframes(slots[index % len(slots)])
    return path


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split()


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word-level edit distance over all pairs, divided by the number of reference words."""
    edits = 0
    total = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref, hyp = words(reference), words(hypothesis)
        row = list(range(len(hyp) + 1))
        for i, expected in enumerate(ref, start=1):
            previous, row[0] = row[:], i
            for j, heard in enumerate(hyp, start=1):
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (expected != heard))
        edits += row[len(hyp)]
        total += len(ref)
    return edits / total


def to_flac(source: Path, target: Path) -> Path:
    """The same sound losslessly compressed (a ten-minute meeting fits the 25 MB upload limit)."""
    with av.open(str(source)) as recording, av.open(str(target), "w") as out:
        stream = out.add_stream("flac", rate=recording.streams.audio[0].rate)
        stream.layout = "mono"
        for frame in recording.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target
