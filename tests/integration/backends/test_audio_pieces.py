"""A recording cut into pieces on its pauses: nothing lost, nothing split mid-word, any length."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from llmaas.adapters.backends.local.audio_pieces import SAMPLE_RATE, duration_ms, pieces
from llmaas.domain.errors import InvalidRequest
from tests.support.speech import long_recording, speak, to_flac, wav_duration


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five minutes: a sentence every 20 seconds, silence in between."""
    folder = tmp_path_factory.mktemp("pieces")
    clips = [
        speak("Please send the report before Friday.", "en", folder / "a.wav"),
        speak("The train to Paris leaves at nine.", "en", folder / "b.wav"),
    ]
    return long_recording(clips, folder / "meeting.wav", seconds=300)


def test_the_duration_is_measured_without_keeping_the_sound(meeting: Path) -> None:
    assert duration_ms(meeting.read_bytes()) == pytest.approx(wav_duration(meeting) * 1000, abs=5)


def test_pieces_are_cut_in_pauses_and_lose_no_sample(meeting: Path) -> None:
    cut = list(pieces(meeting.read_bytes(), min_silence_ms=500, piece_seconds=60))
    lengths = [len(piece.samples) for piece in cut]
    total = sum(lengths)
    assert total / SAMPLE_RATE == pytest.approx(300, abs=0.1)
    assert len(cut) >= 5 and max(lengths) <= 60 * SAMPLE_RATE + SAMPLE_RATE
    offsets = [piece.offset_seconds for piece in cut]
    assert offsets == [sum(lengths[:i]) / SAMPLE_RATE for i in range(len(cut))]
    for piece in cut[:-1]:
        # Each cut falls in a pause: the last 100 ms of a piece are silence, not a word cut in two.
        assert np.abs(piece.samples[-SAMPLE_RATE // 10 :]).max() < 0.01
        assert piece.samples.dtype == np.float32


def test_a_cut_without_pauses_falls_at_the_limit(tmp_path: Path) -> None:
    tone = tmp_path / "tone.flac"
    _write_tone(tone, seconds=150)
    cut = list(pieces(tone.read_bytes(), min_silence_ms=500, piece_seconds=60))
    assert [round(len(p.samples) / SAMPLE_RATE) for p in cut] == [60, 60, 30]


def test_flac_holds_the_same_sound_as_the_wav(meeting: Path, tmp_path: Path) -> None:
    flac = to_flac(meeting, tmp_path / "meeting.flac")
    assert flac.stat().st_size < meeting.stat().st_size / 3
    assert duration_ms(flac.read_bytes()) == pytest.approx(
        duration_ms(meeting.read_bytes()), abs=30
    )


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00" * 4096, b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 40, b"not audio at all"],
)
def test_what_is_not_sound_is_the_clients_fault(garbage: bytes) -> None:
    with pytest.raises(InvalidRequest) as refused:
        duration_ms(garbage)
    assert refused.value.code == "invalid_audio"
    with pytest.raises(InvalidRequest):
        list(pieces(garbage, min_silence_ms=500))


def _write_tone(path: Path, *, seconds: int) -> None:
    """A continuous 440 Hz tone, which the VAD may or may not call speech, but never a pause."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=SAMPLE_RATE)
        stream.layout = "mono"
        step = SAMPLE_RATE // 10
        for start in range(0, seconds * SAMPLE_RATE, step):
            t = np.arange(start, start + step) / SAMPLE_RATE
            wave = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
