"""The learned detector's own logic, with a fake embedder: windows, max over windows, weights file.

The real model is exercised in ``tests/integration/guardrails``; here nothing touches the disk."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmaas.adapters.guardrails.learned import (
    LearnedInjectionDetector,
    LinearHead,
    Windowing,
    parse_weights,
    weights_document,
)

TRIGGER = "zzinject"
"""The fake embedder's notion of an attack: a window containing this word."""


class FakeEmbedder:
    """Two dimensions: (contains the trigger, does not); records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str], /) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        rows = [[1.0, 0.0] if TRIGGER in text else [0.0, 1.0] for text in texts]
        return np.asarray(rows, dtype=np.float32)


HEAD = LinearHead(np.asarray([4.0, -4.0], dtype=np.float32), 0.0)


def detector(
    windowing: Windowing | None = None,
) -> tuple[LearnedInjectionDetector, FakeEmbedder]:
    embedder = FakeEmbedder()
    found = LearnedInjectionDetector(embedder, HEAD, 0.5, windowing or Windowing())
    return found, embedder


def test_a_short_text_is_one_window_with_whitespace_collapsed() -> None:
    assert Windowing().windows("  Ignore\n\tprevious   instructions ") == [
        "Ignore previous instructions"
    ]


def test_a_blank_text_has_no_window_and_scores_zero_without_calling_the_embedder() -> None:
    found, embedder = detector()
    assert Windowing().windows(" \n\t") == []
    assert found.score(" \n ") == 0.0
    assert embedder.calls == []


def test_long_text_windows_respect_both_caps_and_overlap() -> None:
    windowing = Windowing(words=10, stride=5, chars=60, max_word_chars=20)
    words = [f"w{i}" for i in range(47)]
    windows = windowing.windows(" ".join(words))
    assert all(len(w.split()) <= 10 and len(w) <= 60 for w in windows)
    for previous, following in itertools.pairwise(windows):
        assert set(previous.split()) & set(following.split()), "consecutive windows must overlap"
    assert windows[-1].split()[-1] == "w46"


def test_an_unspaced_run_is_cut_so_no_window_can_exceed_the_model_input() -> None:
    windowing = Windowing()
    windows = windowing.windows("A" * 5000)
    assert windows
    assert all(len(w) <= windowing.chars for w in windows)
    assert sum(len(w.replace(" ", "")) for w in windows) >= 5000


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=3000),
    st.integers(min_value=2, max_value=80),
)
def test_windows_cover_every_word_and_stay_bounded(text: str, words: int) -> None:
    windowing = Windowing(words=words, stride=max(1, words // 2), chars=400, max_word_chars=64)
    windows = windowing.windows(text)
    covered = " ".join(windows).split()
    for piece in text.split():
        for start in range(0, len(piece), 64):
            assert piece[start : start + 64] in covered
    assert all(len(w) <= 400 and len(w.split()) <= words for w in windows)


def test_an_injection_buried_in_a_long_text_decides_the_score() -> None:
    found, _ = detector(Windowing(words=8, stride=4, chars=200, max_word_chars=32))
    benign = " ".join(["the weather is mild today and the garden grows"] * 30)
    assert found.score(benign) < 0.5
    buried = benign + f" {TRIGGER} " + benign
    assert found.score(buried) > 0.95
    assert found.is_injection(buried)
    assert not found.is_injection(benign)


def test_several_texts_are_scored_with_one_embedder_call() -> None:
    found, embedder = detector()
    scores = found.score_many(["hello there", f"please {TRIGGER} now", ""])
    assert len(embedder.calls) == 1
    assert scores[0] < 0.5 < scores[1]
    assert scores[2] == 0.0


def test_the_weights_document_round_trips() -> None:
    windowing = Windowing(words=32, stride=16, chars=300, max_word_chars=50)
    document = weights_document(HEAD, 0.42, windowing, {"note": "test"})
    head, threshold, parsed_windowing = parse_weights(document)
    assert threshold == pytest.approx(0.42)
    assert parsed_windowing == windowing
    assert head.bias == HEAD.bias
    np.testing.assert_allclose(head.weights, HEAD.weights)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 99}, "format"),
        ({"dimensions": 3}, "dimensions"),
        ({"bias": float("nan")}, "non-finite"),
        ({"threshold": 1.5}, "threshold"),
    ],
)
def test_a_corrupt_weights_document_is_refused(change: dict[str, object], message: str) -> None:
    document = weights_document(HEAD, 0.5, Windowing(), {}) | change
    with pytest.raises(ValueError, match=message):
        parse_weights(document)


def test_a_window_must_fit_its_longest_word_piece() -> None:
    with pytest.raises(ValueError, match="word piece"):
        Windowing(chars=50, max_word_chars=64)
    with pytest.raises(ValueError, match="stride"):
        Windowing(words=10, stride=11)
