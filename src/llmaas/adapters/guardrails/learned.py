"""The learned layer of the prompt-injection guardrail: a logistic regression over sentence embeddings.

Why this shape: the gateway already loads all-MiniLM-L6-v2 for ``/v1/embeddings``, so reusing its
vectors costs one small forward pass and no second model. On top sits a linear classifier whose weights
(385 numbers) ship as JSON beside this module and run with numpy alone, so the guard adds no runtime
dependency and its behaviour is fully inspectable. ``scripts/train_injection_detector.py`` rebuilds the
weights reproducibly from openly licensed corpora; ``bench/injection_detector.py`` measures it.

Long inputs are cut into overlapping windows scored one by one, and the input's score is the highest
window's: mean pooling over a whole document would dilute one injected sentence into hundreds of benign
ones. Windows are short (32 words, about 45 tokens, half overlapping): with 64-word windows a
one-sentence injection pasted into dense prose was diluted below the threshold, and with 50% overlap
the embedding cost is about twice the text's tokens whatever the window size.

The embedder is passed in (any callable turning strings into unit vectors) so that this module never
imports onnxruntime, and tests or other engines can supply their own.

Status: not in the request path. Measured (``tests/fixtures/injection/metrics.json``): held-out
recall 0.87 at 0.056 false positives, French recall 0.30 (the embedder is English-only), about 10 ms
per window on this CPU. The gateway runs the hashed n-gram classifier of ``ngram.py`` instead (recall
0.94 at 0.02 on the same split, French included, 0.2 ms a message); this one stays as the baseline it
was measured against and as the code path for an embedding-based detector.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

WEIGHTS_FILE = "learned_injection.json"
"""The packaged weights, next to this module."""

FORMAT_VERSION = 1

_WORD = re.compile(r"\S+")


class Embedder(Protocol):
    """Turns texts into one L2-normalised row each (float32, shape ``(len(texts), dimensions)``).

    It must embed exactly as the weights were trained (all-MiniLM-L6-v2, mean pooled, normalised):
    a different model gives vectors the classifier cannot read.
    """

    def __call__(self, texts: Sequence[str], /) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class Windowing:
    """How an input is cut: at most ``words`` words and ``chars`` characters per window, the next
    window starting ``stride`` words after the previous one.

    The character cap bounds the token count whatever the text (a wordpiece covers at least one
    character), so a window never exceeds the embedder's 512-token input; words longer than
    ``max_word_chars`` (URLs, base64, unspaced scripts) are split first for the same reason.
    """

    words: int = 32
    stride: int = 16
    chars: int = 240
    max_word_chars: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.stride <= self.words:
            raise ValueError("stride must be between 1 and the window size")
        if self.max_word_chars >= self.chars:
            raise ValueError("a single word piece must fit in a window")

    def windows(self, text: str) -> list[str]:
        """The windows of ``text``, whitespace collapsed; none for a blank text."""
        pieces = [
            word[start : start + self.max_word_chars]
            for word in _WORD.findall(text)
            for start in range(0, len(word), self.max_word_chars)
        ]
        windows: list[str] = []
        start = 0
        while start < len(pieces):
            end = self._window_end(pieces, start)
            windows.append(" ".join(pieces[start:end]))
            if end == len(pieces):
                break
            # A window the character cap cut short advances in proportion, keeping the overlap.
            start += max(1, min(self.stride, (end - start) * self.stride // self.words))
        return windows

    def _window_end(self, pieces: list[str], start: int) -> int:
        end = start
        length = -1
        while end < len(pieces) and end - start < self.words:
            length += len(pieces[end]) + 1
            if length > self.chars and end > start:
                break
            end += 1
        return end


@dataclass(frozen=True, slots=True)
class LinearHead:
    """``sigmoid(w . x + b)``: the probability that one window is an injection."""

    weights: npt.NDArray[np.float32]
    bias: float

    def probabilities(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        logits = vectors.astype(np.float64) @ self.weights.astype(np.float64) + self.bias
        result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        return result


class LearnedInjectionDetector:
    """Scores a text in [0, 1]; at or above ``threshold`` it is taken for a prompt injection.

    The threshold was picked on a validation split for a false-positive rate of at most 2%;
    raise it to block less, lower it to catch more.
    """

    def __init__(
        self,
        embedder: Embedder,
        head: LinearHead,
        threshold: float,
        windowing: Windowing = Windowing(),
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be a probability")
        self._embedder = embedder
        self._head = head
        self._windowing = windowing
        self.threshold = threshold

    @classmethod
    def from_file(
        cls, embedder: Embedder, path: Path | None = None, threshold: float | None = None
    ) -> LearnedInjectionDetector:
        """The detector with the packaged weights, or those at ``path``."""
        if path is None:
            text = resources.files(__package__).joinpath(WEIGHTS_FILE).read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        head, saved_threshold, windowing = parse_weights(json.loads(text))
        chosen = saved_threshold if threshold is None else threshold
        return cls(embedder, head, chosen, windowing)

    @property
    def windowing(self) -> Windowing:
        return self._windowing

    def score(self, text: str) -> float:
        """The highest window probability, 0.0 for a blank text."""
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """Scores for several texts with one embedder call (their windows batched together)."""
        windows: list[str] = []
        owners: list[int] = []
        for index, text in enumerate(texts):
            for window in self._windowing.windows(text):
                windows.append(window)
                owners.append(index)
        scores = [0.0] * len(texts)
        if not windows:
            return scores
        probabilities = self._head.probabilities(self._embedder(windows))
        for owner, probability in zip(owners, probabilities.tolist(), strict=True):
            scores[owner] = max(scores[owner], probability)
        return scores

    def is_injection(self, text: str) -> bool:
        return self.score(text) >= self.threshold


def parse_weights(document: dict[str, Any]) -> tuple[LinearHead, float, Windowing]:
    """Reads the weights JSON, refusing one of another format or with non-finite numbers, so a
    corrupt file fails at start rather than silently passing every prompt."""
    if document.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"unsupported injection-detector weights format {document.get('format')!r}"
        )
    weights = np.asarray(document["weights"], dtype=np.float32)
    bias = float(document["bias"])
    threshold = float(document["threshold"])
    if weights.ndim != 1 or weights.size != int(document["dimensions"]):
        raise ValueError("injection-detector weights do not match their declared dimensions")
    if not (np.isfinite(weights).all() and math.isfinite(bias) and 0.0 <= threshold <= 1.0):
        raise ValueError("injection-detector weights hold a non-finite value or a bad threshold")
    window = document["window"]
    windowing = Windowing(
        words=int(window["words"]),
        stride=int(window["stride"]),
        chars=int(window["chars"]),
        max_word_chars=int(window["max_word_chars"]),
    )
    return LinearHead(weights, bias), threshold, windowing


def weights_document(
    head: LinearHead, threshold: float, windowing: Windowing, provenance: dict[str, Any]
) -> dict[str, Any]:
    """The JSON ``parse_weights`` reads (the training script writes it)."""
    return {
        "format": FORMAT_VERSION,
        "kind": "logistic-regression over all-MiniLM-L6-v2 window embeddings, max over windows",
        "dimensions": int(head.weights.size),
        "threshold": round(threshold, 6),
        "window": {
            "words": windowing.words,
            "stride": windowing.stride,
            "chars": windowing.chars,
            "max_word_chars": windowing.max_word_chars,
        },
        "provenance": provenance,
        "bias": round(head.bias, 7),
        "weights": [round(float(w), 7) for w in head.weights],
    }
