"""The fast learned layer of the prompt-injection guardrail: a linear model over hashed n-grams.

Why this shape: the embedding detector (``learned.py``) costs about 10 ms per window and reads only
English. Character n-grams read any alphabet and survive spelling variants and inflections, and a
linear model over them is a sum of table look-ups: numpy scores a 50-word chat message in about
0.06 ms and a 2,000-word document in about 1.5 ms (``score_normalised``), with no second model in
memory and no runtime dependency beyond numpy.

Features (``ngram_features.py``): character 3- to 5-grams and word 1- and 2-grams of the normalised
text, accents stripped, hashed into 2**18 buckets. Long inputs are cut into overlapping windows of
48 tokens and the input's score is its highest window's, so one injected sentence in a long benign
document is not diluted.

Each view of :func:`~llmaas.adapters.guardrails.normalisation.normalise` is scored (the folded text
and the payloads hidden in tag characters or base64) and the highest counts. The decoded readings
(backwards, ROT13, digits as letters: kept by ``normalise`` only when they reveal telltale words) are
read only when the weights file asks for it; the training script decides on the validation split.
The weights are trained on ``normalise``'s output: a change to it calls for retraining (one to
three minutes), which ``tests/integration/guardrails/test_ngram_injection.py`` detects (the weights
carry a digest of what normalising their training texts gave).

``scripts/train_ngram_detector.py`` fits the weights reproducibly; ``bench/ngram_detector.py``
measures the detector. Measured (``tests/fixtures/injection/ngram_metrics.json``): held-out recall
0.91 at 0.012 false positives (0.85 at 0.008 at the strict point), but French recall 0.33 and 20% false
positives on English benign prompts that say "ignore" or "system prompt": the corpus has three French
injections and few benign texts of that kind, so this layer is one vote among the guard's layers,
not the guard.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmaas.adapters.guardrails.ngram_features import HASHING, Featuriser, NgramSpec
from llmaas.adapters.guardrails.normalisation import NormalisedText, normalise

WEIGHTS_FILE = "ngram_injection.json"
"""The packaged weights, next to this module."""

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class NgramWeights:
    """A trained model: the spec, one weight per bucket, the bias and two operating points.

    Scores are calibrated on the validation split (Platt scaling folded into weights and bias), so
    a score reads as the chance of an injection at that split's mix (about 13% injections).
    ``threshold`` was chosen on the validation split for a false-positive rate of at most 2%;
    ``strict_threshold`` is the gateway guard's operating point: the lowest at which the pattern
    layers plus this classifier (on what they pass) flag at most 1% of the validation benign texts.
    """

    spec: NgramSpec
    weights: npt.NDArray[np.float32]
    bias: float
    threshold: float
    strict_threshold: float


class NgramInjectionDetector:
    """Scores a text in [0, 1]; at or above ``threshold`` it is taken for a prompt injection."""

    def __init__(self, model: NgramWeights, threshold: float | None = None) -> None:
        chosen = model.threshold if threshold is None else threshold
        if not 0.0 <= chosen <= 1.0:
            raise ValueError("threshold must be a probability")
        self._model = model
        self._featuriser = Featuriser(model.spec)
        self.threshold = chosen
        self.strict_threshold = max(chosen, model.strict_threshold)

    @classmethod
    def from_file(
        cls, path: Path | None = None, threshold: float | None = None
    ) -> NgramInjectionDetector:
        """The detector with the packaged weights, or those at ``path``."""
        if path is None:
            text = resources.files(__package__).joinpath(WEIGHTS_FILE).read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        return cls(parse_weights(json.loads(text)), threshold)

    @property
    def spec(self) -> NgramSpec:
        return self._model.spec

    @property
    def featuriser(self) -> Featuriser:
        return self._featuriser

    def score(self, text: str) -> float:
        """The highest window probability over the views of ``text``; 0.0 when it has no token."""
        return self.score_normalised(normalise(text))

    def score_many(self, texts: Sequence[str]) -> list[float]:
        return [self.score(text) for text in texts]

    def score_normalised(self, normalised: NormalisedText) -> float:
        """For a caller that has already normalised the text for its other layers."""
        return self.score_views(views_to_score(normalised, self._model.spec))

    def score_views(self, views: Sequence[str]) -> float:
        best = self.max_logit(views)
        return 0.0 if best == -math.inf else _sigmoid(best)

    def max_logit(self, views: Sequence[str]) -> float:
        """The highest window logit over ``views``; minus infinity when none has a token."""
        weights, bias = self._model.weights, self._model.bias
        best = -math.inf
        for view in views:
            best = max(best, self._featuriser.max_window_logit(view, weights, bias))
        return best

    def is_injection(self, text: str) -> bool:
        return self.score(text) >= self.threshold


def views_to_score(normalised: NormalisedText, spec: NgramSpec) -> tuple[str, ...]:
    """The views the detector reads (the training script trains on the same)."""
    if spec.decoded_views:
        return normalised.views
    return (normalised.text, *normalised.hidden)


LEAKED_MARKERS = re.compile(r"\bAIB-CANARY-[A-Z0-9]+\b|\bZK-4471-QX\b")
"""Marker tokens that two benchmark packages put in their injections (to check whether an attack
worked) and that no benign text carries: learnt, they teach that "canary" means attack, and a
harmless "Repeat: zebra-canary-7f3a91" scored 0.975."""


def training_text(text: str) -> str:
    """A corpus text as the detector is trained and tuned on it: without leaked markers."""
    return LEAKED_MARKERS.sub("", text)


def views_digest(texts: Iterable[str], spec: NgramSpec) -> str:
    """A fingerprint of what the detector reads of ``texts``: saved with the weights for their
    training texts, it lets a test tell that ``normalise`` has changed since the weights were fit
    (they are then stale, and the training script must be rerun)."""
    digest = hashlib.sha256()
    for text in texts:
        for view in views_to_score(normalise(text), spec):
            digest.update(view.encode("utf-8", "surrogatepass") + b"\x1f")
        digest.update(b"\x1e")
    return digest.hexdigest()


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exponential = math.exp(logit)
    return exponential / (1.0 + exponential)


def parse_weights(document: dict[str, Any]) -> NgramWeights:
    """Reads the weights JSON, refusing another format or hashing, a payload whose checksum or size
    does not match, and non-finite numbers, so a corrupt file fails at start rather than silently
    passing every prompt."""
    if document.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported n-gram detector weights format {document.get('format')!r}")
    spec = _parse_spec(document["spec"])
    weights = _decode_weights(document["weights"], spec.dimensions)
    bias = float(document["bias"])
    threshold = float(document["threshold"])
    strict = float(document["strict_threshold"])
    if not (math.isfinite(bias) and 0.0 <= threshold <= strict <= 1.0):
        raise ValueError("n-gram detector weights hold a non-finite bias or bad thresholds")
    return NgramWeights(spec, weights, bias, threshold, strict)


def _parse_spec(raw: dict[str, Any]) -> NgramSpec:
    if raw.get("hashing") != HASHING:
        raise ValueError(f"unsupported n-gram hashing {raw.get('hashing')!r}")
    return NgramSpec(
        char_orders=tuple(int(n) for n in raw["char_orders"]),
        word_orders=tuple(int(n) for n in raw["word_orders"]),
        bits=int(raw["bits"]),
        window_tokens=int(raw["window_tokens"]),
        stride=int(raw["stride"]),
        max_token_chars=int(raw["max_token_chars"]),
        decoded_views=bool(raw["decoded_views"]),
        strip_accents=bool(raw["strip_accents"]),
    )


def _decode_weights(raw: dict[str, Any], dimensions: int) -> npt.NDArray[np.float32]:
    """float16 little-endian, zlib-compressed, base64: most buckets are zero and compress away."""
    if raw.get("encoding") != "float16-le+zlib+base64":
        raise ValueError(f"unsupported n-gram weights encoding {raw.get('encoding')!r}")
    try:
        packed = zlib.decompress(base64.b64decode(raw["data"], validate=True))
    except (binascii.Error, zlib.error) as error:
        raise ValueError("n-gram detector weights are not valid base64 zlib data") from error
    if hashlib.sha256(packed).hexdigest() != raw["sha256"]:
        raise ValueError("n-gram detector weights do not match their checksum")
    if len(packed) != 2 * dimensions:
        raise ValueError("n-gram detector weights do not match their declared dimensions")
    weights = np.frombuffer(packed, dtype="<f2").astype(np.float32)
    if not np.isfinite(weights).all():
        raise ValueError("n-gram detector weights hold a non-finite value")
    return weights


def quantised(weights: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """The weights as the file will hold them: the training script picks thresholds on these."""
    return np.asarray(weights, dtype="<f2").astype(np.float32)


def weights_document(model: NgramWeights, provenance: dict[str, Any]) -> dict[str, Any]:
    """The JSON ``parse_weights`` reads (the training script writes it)."""
    packed = np.asarray(model.weights, dtype="<f2").tobytes()
    spec = model.spec
    return {
        "format": FORMAT_VERSION,
        "kind": "logistic regression over hashed character and word n-grams, max over windows",
        "spec": {
            "hashing": HASHING,
            "char_orders": list(spec.char_orders),
            "word_orders": list(spec.word_orders),
            "bits": spec.bits,
            "window_tokens": spec.window_tokens,
            "stride": spec.stride,
            "max_token_chars": spec.max_token_chars,
            "decoded_views": spec.decoded_views,
            "strip_accents": spec.strip_accents,
        },
        "bias": model.bias,
        "threshold": model.threshold,
        "strict_threshold": model.strict_threshold,
        "provenance": provenance,
        "weights": {
            "encoding": "float16-le+zlib+base64",
            "sha256": hashlib.sha256(packed).hexdigest(),
            "data": base64.b64encode(zlib.compress(packed, 9)).decode("ascii"),
        },
    }
