"""The n-gram detector with hand-made weights: windows and views decide the score, weights file checks.

The packaged model is exercised in ``tests/integration/guardrails/test_ngram_injection.py``; here
nothing touches the disk."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from llmaas.adapters.guardrails.ngram import (
    NgramInjectionDetector,
    NgramWeights,
    parse_weights,
    quantised,
    weights_document,
)
from llmaas.adapters.guardrails.ngram_features import Featuriser, NgramSpec

SMALL = NgramSpec(bits=12, window_tokens=8, stride=4)
TRIGGER = "zzinject"
TRIGGER_SPEC = replace(SMALL, bits=18)


def random_weights(spec: NgramSpec, seed: int = 0) -> npt.NDArray[np.float32]:
    return quantised(np.random.default_rng(seed).normal(size=spec.dimensions))


def trigger_model(spec: NgramSpec = TRIGGER_SPEC) -> NgramWeights:
    """Weights that flag a window when it holds the trigger word: every bucket the trigger's own
    n-grams fall in weighs +30, everything else -0.5 (a sure injection against a mild benign lean).
    With 2**18 buckets no benign n-gram in these tests lands in one of the trigger's."""
    weights = np.full(spec.dimensions, -0.5)
    for buckets, _ in Featuriser(spec).window_rows(TRIGGER):
        weights[buckets] = 30.0
    return NgramWeights(spec, quantised(weights), 0.0, 0.5, 0.9)


def test_a_blank_text_scores_zero() -> None:
    detector = NgramInjectionDetector(trigger_model())
    assert detector.score("") == 0.0
    assert detector.score(" \n\t ") == 0.0
    assert detector.score_many(["", "hello"])[0] == 0.0


def test_an_injection_buried_in_a_long_text_decides_the_score() -> None:
    detector = NgramInjectionDetector(trigger_model())
    benign = " ".join(["the weather is mild today and the garden grows"] * 40)
    assert detector.score(benign) < 0.5
    buried = f"{benign} {TRIGGER} {benign}"
    assert detector.score(buried) > 0.99
    assert detector.is_injection(buried)
    assert not detector.is_injection(benign)


def test_a_payload_hidden_in_base64_is_scored_as_a_view_of_its_own() -> None:
    detector = NgramInjectionDetector(trigger_model())
    payload = base64.b64encode(f"please {TRIGGER} right now, thank you".encode()).decode()
    assert detector.score(f"Attachment preview: {payload}") > 0.99
    assert (
        detector.score(
            "Attachment preview: "
            + base64.b64encode(b"quarterly sales grew by twelve percent").decode()
        )
        < 0.5
    )


def test_the_highest_logit_is_that_of_the_highest_window_of_any_view() -> None:
    """The detector asks the featuriser for each view's best window alone (a short view without
    building the array of its windows): the same figure as the highest of every window."""
    model = trigger_model()
    detector = NgramInjectionDetector(model)
    long_view = " ".join(["the garden grows"] * 30) + f" {TRIGGER} " + "mild weather " * 20
    views = ["", "hello there", long_view, " \t "]
    every_window = [
        float(logit)
        for view in views
        for logit in detector.featuriser.window_logits(view, model.weights, model.bias)
    ]
    assert detector.max_logit(views) == max(every_window)
    assert detector.max_logit(["", " \t "]) == -math.inf
    assert detector.max_logit([]) == -math.inf


def test_score_many_scores_each_text_as_score_does() -> None:
    detector = NgramInjectionDetector(trigger_model())
    texts = ["hello there", f"please {TRIGGER} now", ""]
    assert detector.score_many(texts) == [detector.score(t) for t in texts]


def test_the_weights_document_round_trips() -> None:
    model = NgramWeights(SMALL, random_weights(SMALL), -1.25, 0.6, 0.8)
    parsed = parse_weights(json.loads(json.dumps(weights_document(model, {"note": "test"}))))
    assert parsed.spec == SMALL
    assert parsed.bias == model.bias
    assert (parsed.threshold, parsed.strict_threshold) == (0.6, 0.8)
    np.testing.assert_array_equal(parsed.weights, model.weights)


def test_a_threshold_given_at_construction_overrides_the_saved_one() -> None:
    model = NgramWeights(SMALL, random_weights(SMALL), 0.0, 0.6, 0.8)
    assert NgramInjectionDetector(model).threshold == 0.6
    assert NgramInjectionDetector(model).strict_threshold == 0.8
    assert NgramInjectionDetector(model, threshold=0.9).strict_threshold == 0.9
    with pytest.raises(ValueError, match="probability"):
        NgramInjectionDetector(model, threshold=1.5)


def _corrupt_payload(document: dict[str, object]) -> None:
    weights = document["weights"]
    assert isinstance(weights, dict)
    data = bytearray(base64.b64decode(weights["data"]))
    data[len(data) // 2] ^= 0xFF
    weights["data"] = base64.b64encode(bytes(data)).decode()


def _flip_checksum(document: dict[str, object]) -> None:
    weights = document["weights"]
    assert isinstance(weights, dict)
    weights["sha256"] = "0" * 64


def _smaller_spec(document: dict[str, object]) -> None:
    spec = document["spec"]
    assert isinstance(spec, dict)
    spec["bits"] = 11


def _other_hashing(document: dict[str, object]) -> None:
    spec = document["spec"]
    assert isinstance(spec, dict)
    spec["hashing"] = "python-hash"


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: d.update(format=99), "format"),
        (lambda d: d.update(bias=float("nan")), "non-finite"),
        (lambda d: d.update(threshold=1.5), "thresholds"),
        (lambda d: d.update(strict_threshold=0.1), "thresholds"),
        (_corrupt_payload, "base64 zlib|checksum"),
        (_flip_checksum, "checksum"),
        (_smaller_spec, "dimensions"),
        (_other_hashing, "hashing"),
    ],
)
def test_a_corrupt_weights_document_is_refused(corrupt: object, message: str) -> None:
    document = weights_document(NgramWeights(SMALL, random_weights(SMALL), 0.0, 0.5, 0.7), {})
    assert callable(corrupt)
    corrupt(document)
    with pytest.raises(ValueError, match=message):
        parse_weights(document)


def test_non_finite_weights_are_refused() -> None:
    weights = random_weights(SMALL)
    weights[7] = np.inf
    document = weights_document(NgramWeights(SMALL, weights, 0.0, 0.5, 0.7), {})
    with pytest.raises(ValueError, match="non-finite"):
        parse_weights(document)
