"""The generation loop's text buffer: stop sequences never leak, multi-byte characters survive."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llmaas.adapters.backends.local.generation import _TextBuffer


def feed(pieces: list[bytes], stops: list[str]) -> tuple[str, bool]:
    buffer = _TextBuffer(stops)
    out = ""
    for piece in pieces:
        safe, stopped = buffer.add(piece)
        out += safe
        if stopped:
            return out, True
    return out + buffer.drain(), False


def test_a_stop_split_across_tokens_is_cut_and_never_emitted() -> None:
    assert feed([b"1, 2, 3", b", 4", b"##", b"#", b"END more"], ["###END"]) == ("1, 2, 3, 4", True)


def test_a_partial_stop_that_does_not_complete_is_released() -> None:
    assert feed([b"a #", b"# b"], ["###"]) == ("a ## b", False)


def test_utf8_split_across_tokens() -> None:
    data = "héllo 👩‍🚀".encode()
    assert feed([data[i : i + 1] for i in range(len(data))], []) == ("héllo 👩‍🚀", False)


@given(st.text(max_size=60), st.text(min_size=1, max_size=5), st.data())
def test_output_is_the_text_up_to_the_first_stop(text: str, stop: str, data: st.DataObject) -> None:
    encoded = text.encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=10)))
    pieces = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    out, stopped = feed(pieces, [stop])
    if stop in text:
        assert stopped
        assert out == text[: text.index(stop)]
    else:
        assert not stopped
        assert out == text
