"""SRT and WebVTT renderings, and the verbose JSON's optional segments and words."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llmaas.domain.transcripts import AudioInfo, Segment, Transcript, Word
from llmaas.openai_schema.audio import TranscriptionVerbose
from llmaas.openai_schema.subtitles import timestamp, to_srt, to_vtt

SEGMENTS = (
    Segment(
        0, 0, 1500, " Hello there.", words=(Word(0, 600, " Hello"), Word(700, 1500, " there."))
    ),
    Segment(1, 1500, 3_723_045, " Long one."),
)


def test_timestamps_have_hours_and_milliseconds() -> None:
    assert timestamp(3_723_045, ",") == "01:02:03,045"
    assert timestamp(0, ".") == "00:00:00.000"


def test_srt_numbers_its_cues_from_one() -> None:
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
        "2\n00:00:01,500 --> 01:02:03,045\nLong one.\n"
    )


def test_vtt_starts_with_its_header_and_uses_dots() -> None:
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
        "00:00:01.500 --> 01:02:03.045\nLong one.\n"
    )


@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**7)), max_size=20))
def test_cue_times_are_monotonic_whatever_the_engine_said(times: list[tuple[int, int]]) -> None:
    segments = [Segment(i, start, end, "x") for i, (start, end) in enumerate(times)]
    cues = [line.split(" --> ") for line in to_srt(segments).splitlines() if "-->" in line]
    previous = "00:00:00,000"
    for start, end in cues:
        assert previous <= start <= end  # zero-padded: text order is time order
        previous = end


def test_verbose_json_carries_words_only_when_asked() -> None:
    transcript = Transcript(AudioInfo(duration_ms=3_723_045, language="fr"), SEGMENTS)
    plain = TranscriptionVerbose.from_domain(transcript, ["segment"], "transcribe")
    assert plain.language == "french"
    assert plain.duration == 3723.045
    assert plain.text == "Hello there. Long one."
    assert plain.segments is not None and plain.segments[1].end == 3723.045
    assert "words" not in plain.model_dump(exclude_none=True)
    both = TranscriptionVerbose.from_domain(transcript, ["word", "segment"], "translate")
    assert both.task == "translate"
    assert [w.word for w in both.words or []] == ["Hello", "there."]
    words_only = TranscriptionVerbose.from_domain(transcript, ["word"], "transcribe")
    assert words_only.segments is None and words_only.words
