"""``SseDecoder``: whatever way a conforming server frames and a socket splits events, they come back."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from llmaas.openai_schema.sse import DONE, DONE_EVENT, SseDecoder, encode_event

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# What engines send: one JSON object per event (orjson escapes control characters, so no raw newline).
payloads = st.lists(
    st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(orjson.dumps), max_size=8
)
line_ends = st.sampled_from([b"\n", b"\r\n", b"\r"])
# Lines a decoder must skip: comments (keep-alive pings) and fields other than data.
ignored_lines = st.lists(
    st.sampled_from([b": ping", b":", b"event: message", b"id: 42", b"retry: 1000"]), max_size=2
)


def split(stream: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


def decode(pieces: Iterable[bytes]) -> list[bytes]:
    decoder = SseDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return [*events, *decoder.flush()]


def cuts_of(stream: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12)


@given(payloads, st.data())
def test_encoded_events_split_anywhere_decode_to_the_same_payloads(
    events: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(encode_event(event) for event in events)
    cuts = data.draw(cuts_of(stream))

    assert decode(split(stream, cuts)) == events


@given(payloads)
def test_byte_by_byte_each_event_comes_out_exactly_when_its_blank_line_arrives(
    events: list[bytes],
) -> None:
    frames = [encode_event(event) for event in events]
    stream = b"".join(frames)
    ends = {sum(len(frame) for frame in frames[: index + 1]) for index in range(len(frames))}
    decoder = SseDecoder()
    decoded: list[bytes] = []

    for position in range(len(stream)):
        decoded.extend(decoder.feed(stream[position : position + 1]))
        complete = sum(1 for end in ends if end <= position + 1)
        assert decoded == events[:complete]

    assert list(decoder.flush()) == []


@st.composite
def conforming_streams(draw: st.DrawFn) -> tuple[list[Any], bytes]:
    """Pretty-printed JSON values, one ``data:`` line per line, with comments and other fields mixed
    in, and one kind of line end for the whole stream (as a real server would)."""
    values = draw(st.lists(json_values, max_size=6))
    eol = draw(line_ends)
    lines: list[bytes] = []
    for value in values:
        text = json.dumps(value, indent=draw(st.sampled_from([None, 1, 2])))
        lines.extend(draw(ignored_lines))
        for line in text.split("\n"):
            lines.append(b"data: " + line.encode())
            lines.extend(draw(ignored_lines))
        lines.append(b"")
    return values, b"".join(line + eol for line in lines)


@given(conforming_streams(), st.data())
@example(([{"a": [1, 2]}], b'data: {\r\ndata:  "a": [1, 2]\r\n: ping\r\ndata: }\r\n\r\n'), None)
def test_line_ends_comments_and_multi_line_data(
    stream: tuple[list[Any], bytes], data: st.DataObject | None
) -> None:
    values, raw = stream
    cuts = data.draw(cuts_of(raw)) if data is not None else range(len(raw))

    assert [json.loads(event) for event in decode(split(raw, cuts))] == values


@given(payloads.filter(bool), line_ends, st.booleans(), st.data())
def test_flush_delivers_a_final_event_without_its_blank_line(
    events: list[bytes], eol: bytes, ends_its_line: bool, data: st.DataObject
) -> None:
    stream = b"".join(b"data: " + event + eol + eol for event in events)
    stream = stream.removesuffix(eol if ends_its_line else eol + eol)
    cuts = data.draw(cuts_of(stream))

    assert decode(split(stream, cuts)) == events


def test_data_field_forms() -> None:
    decoder = SseDecoder()
    stream = b"data:no-space\n\ndata:  two spaces\n\ndata: a:b\n\n"

    assert list(decoder.feed(stream)) == [b"no-space", b" two spaces", b"a:b"]


def test_done_sentinel_round_trips() -> None:
    assert encode_event(DONE) == DONE_EVENT
    assert decode([DONE_EVENT[:3], DONE_EVENT[3:]]) == [DONE]


def test_a_lone_carriage_return_split_from_its_line_feed_is_one_line_end() -> None:
    decoder = SseDecoder()

    assert list(decoder.feed(b"data: x\r")) == []
    assert list(decoder.feed(b"\n\r")) == []
    assert list(decoder.feed(b"\n")) == [b"x"]
    assert list(decoder.flush()) == []
