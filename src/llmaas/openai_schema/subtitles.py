"""SubRip (``srt``) and WebVTT (``vtt``) renderings of a transcript, as OpenAI returns them.

Cues are Whisper's segments. A cue never ends before it starts and never starts before the previous one
(players reject or reorder such files), so times are clamped to be monotonic here rather than trusted.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmaas.domain.transcripts import Segment

_MS_PER_HOUR = 3_600_000
_MS_PER_MINUTE = 60_000
_MS_PER_SECOND = 1000


def timestamp(milliseconds: int, separator: str) -> str:
    hours, rest = divmod(max(0, milliseconds), _MS_PER_HOUR)
    minutes, rest = divmod(rest, _MS_PER_MINUTE)
    seconds, millis = divmod(rest, _MS_PER_SECOND)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _cues(segments: Iterable[Segment]) -> Iterable[tuple[int, int, str]]:
    previous_end = 0
    for segment in segments:
        start = max(segment.start_ms, previous_end)
        end = max(segment.end_ms, start)
        previous_end = end
        yield start, end, segment.text.strip()


def to_srt(segments: Iterable[Segment]) -> str:
    blocks = [
        f"{number}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text}\n"
        for number, (start, end, text) in enumerate(_cues(segments), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Iterable[Segment]) -> str:
    blocks = [
        f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{text}\n"
        for start, end, text in _cues(segments)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
