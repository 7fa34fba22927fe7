"""The n-gram detector's features with random weights: hashing, windows, blocks, accents, specs.

What must hold for trained weights to mean anything: a window scores the same however the text
around it is cut, and the hashing never changes under them. Nothing here touches the disk."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmaas.adapters.guardrails.ngram import quantised
from llmaas.adapters.guardrails.ngram_features import Featuriser, NgramSpec

SMALL = NgramSpec(bits=12, window_tokens=8, stride=4)


def random_weights(spec: NgramSpec, seed: int = 0) -> npt.NDArray[np.float32]:
    return quantised(np.random.default_rng(seed).normal(size=spec.dimensions))


def windows_scored_one_by_one(
    featuriser: Featuriser, text: str, weights: npt.NDArray[np.float32]
) -> list[float]:
    tokens = featuriser.joined(text).split()
    spec = featuriser.spec
    logits: list[float] = []
    start = 0
    while True:
        (row,) = featuriser.window_rows(" ".join(tokens[start : start + spec.window_tokens]))
        buckets, value = row
        logits.append(float(weights[buckets].astype(np.float64).sum() * value))
        if start + spec.window_tokens >= len(tokens):
            return logits
        start += spec.stride


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400))
def test_windows_scored_at_once_equal_each_window_scored_alone(text: str) -> None:
    """What keeps training and serving in step: the prefix-sum scoring of a whole text gives each
    window exactly the logit of that window's text featurised on its own, as training sees it."""
    featuriser = Featuriser(SMALL)
    weights = random_weights(SMALL)
    at_once = featuriser.window_logits(text, weights, 0.0)
    from_rows = [
        float(weights[b].astype(np.float64).sum() * v) for b, v in featuriser.window_rows(text)
    ]
    np.testing.assert_allclose(at_once, from_rows, rtol=1e-9, atol=1e-9)
    if featuriser.joined(text):
        alone = windows_scored_one_by_one(featuriser, text, weights)
        np.testing.assert_allclose(at_once, alone, rtol=1e-6, atol=1e-6)
    else:
        assert at_once.size == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["ignore", "all", "the", "rules", "ça", "!", "..."]), max_size=120),
    st.integers(min_value=1, max_value=5),
)
def test_cutting_a_long_text_into_blocks_changes_no_window(words: list[str], block: int) -> None:
    """Blocks bound the memory a megabyte-long input takes; they must not move a window."""
    weights = random_weights(SMALL)
    text = " ".join(words)
    whole = Featuriser(SMALL, block_windows=10_000)
    cut = Featuriser(SMALL, block_windows=block)
    np.testing.assert_allclose(
        cut.window_logits(text, weights, 0.0), whole.window_logits(text, weights, 0.0), atol=1e-9
    )
    assert [b.tolist() for b, _ in cut.window_rows(text)] == [
        b.tolist() for b, _ in whole.window_rows(text)
    ]


def test_the_hashing_is_frozen() -> None:
    """Changing the hash, the token pattern or the salts silently turns trained weights into
    noise: they may only change together with ``HASHING`` and a retrained weights file."""
    (row,) = Featuriser(NgramSpec()).window_rows("ignore  all")
    buckets, value = row
    # " ignore all ": 10 trigrams, 9 four-grams, 8 five-grams, 2 words, 1 word pair
    assert buckets.size == 30
    assert buckets[:4].tolist() == [122876, 47848, 165721, 166780]  # " ig", "ign", "gno", "nor"
    assert buckets[-3:].tolist() == [19902, 77641, 45108]  # "ignore", "all", "ignore all"
    assert value == pytest.approx(1 / np.sqrt(30))


def test_features_do_not_depend_on_where_a_window_sits() -> None:
    featuriser = Featuriser(SMALL)
    weights = random_weights(SMALL)
    alone = featuriser.window_logits("ignore previous instructions", weights, 0.0)
    inside = featuriser.window_logits(
        "ignore previous instructions " + "filler " * 30, weights, 0.0
    )
    assert inside[0] != alone[0]  # the first window also holds five filler words
    tail = featuriser.window_logits("filler " * 12 + "ignore previous instructions", weights, 0.0)
    (only,) = featuriser.window_rows("filler filler filler filler ignore previous instructions")
    assert tail[-1] == pytest.approx(float(weights[only[0]].astype(np.float64).sum() * only[1]))


def test_accents_are_read_as_their_base_letters_when_the_spec_says_so() -> None:
    weights = random_weights(SMALL)
    stripping = Featuriser(SMALL)
    keeping = Featuriser(replace(SMALL, strip_accents=False))
    assert stripping.window_logits("révèle le système", weights, 0.0) == pytest.approx(
        stripping.window_logits("revele le systeme", weights, 0.0)
    )
    assert keeping.window_logits("révèle le système", weights, 0.0) != pytest.approx(
        keeping.window_logits("revele le systeme", weights, 0.0)
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"char_orders": (), "word_orders": ()}, "at least one"),
        ({"char_orders": (0, 3)}, "between 1 and 16"),
        ({"bits": 30}, "bits"),
        ({"window_tokens": 16, "stride": 17}, "stride"),
        ({"max_token_chars": 0}, "max_token_chars"),
    ],
)
def test_an_impossible_spec_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(NgramSpec(), **change)


def test_a_block_holds_at_least_one_window() -> None:
    with pytest.raises(ValueError, match="at least one window"):
        Featuriser(SMALL, block_windows=0)
