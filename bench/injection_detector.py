"""The learned prompt-injection detector alone: recall, false-positive rate and added latency.

What it runs: ``LearnedInjectionDetector`` with the packaged weights and threshold, on the embedded
all-MiniLM-L6-v2 deployment built from the default models config (int8 ONNX, ``--threads`` threads),
reached through ``BackendEmbedder`` exactly as the gateway would reach it. No other guardrail layer.

* Accuracy, at the packaged threshold: the corpus's held-out test split (never seen in training or
  threshold selection), the hand-written French set (injections and benign prompts that say "ignore",
  "système", "instructions") and the hand-written English benign prompts that say "ignore", "system",
  "instructions", all from ``tests/fixtures/injection/``. Then 2,000-word inputs: benign test-split
  texts joined until 2,000 words (clean), and the same with one test-split injection in the middle.
* Latency: the wall time of one ``score(text)`` call (windowing, embedding, classifier, max), one call
  at a time after ``--warmup`` calls, for every prompt above (reported apart: those that fit one
  window, and the longer ones) and for each 2,000-word input; p50 and p99 (nearest rank). Since the
  guard sits in the request path, this is the latency it adds.

The machine's load average is recorded with the results: on a shared machine it explains outliers.
Writes ``bench/results/injection_detector-<time>.json``.

    .venv/bin/python bench/injection_detector.py             # about 3 minutes on 2 cores
    .venv/bin/python bench/injection_detector.py --long 4    # fewer 2,000-word inputs, faster
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness import environment, percentile, run_and_report
from llmaas.adapters.guardrails.backend_embedder import (
    MINILM_MODEL,
    embedded_minilm,
    running_embedder,
)
from llmaas.adapters.guardrails.learned import LearnedInjectionDetector

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "injection"
LONG_WORDS = 2000


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def evaluation_sets() -> dict[str, list[tuple[str, int]]]:
    corpus = read_jsonl(FIXTURES / "corpus.jsonl")
    handwritten = read_jsonl(FIXTURES / "handwritten.jsonl")
    sets: dict[str, list[tuple[str, int]]] = {
        "held-out test split": [(r["text"], r["label"]) for r in corpus if r["split"] == "test"]
    }
    for name in ("french", "english-benign-keywords"):
        sets[name] = [(r["text"], r["label"]) for r in handwritten if r["set"] == name]
    return sets


def long_inputs(count: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """``count`` clean 2,000-word documents of benign test texts, and the same documents with one
    test-split injection inserted halfway (a different one each)."""
    corpus = read_jsonl(FIXTURES / "corpus.jsonl")
    benign = [r["text"] for r in corpus if r["split"] == "test" and r["label"] == 0]
    attacks = [r["text"] for r in corpus if r["split"] == "test" and r["label"] == 1]
    generator = random.Random(seed)
    clean: list[str] = []
    buried: list[str] = []
    for index in range(count):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < LONG_WORDS:
            parts.append(generator.choice(benign))
        clean.append("\n\n".join(parts))
        parts.insert(len(parts) // 2, attacks[index % len(attacks)])
        buried.append("\n\n".join(parts))
    return clean, buried


def accuracy(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict[str, Any]:
    flagged = [s >= threshold for s in scores]
    positives = [f for f, y in zip(flagged, labels, strict=True) if y == 1]
    negatives = [f for f, y in zip(flagged, labels, strict=True) if y == 0]
    return {
        "injections": len(positives),
        "benign": len(negatives),
        "recall": round(sum(positives) / len(positives), 4) if positives else None,
        "false_positive_rate": round(sum(negatives) / len(negatives), 4) if negatives else None,
    }


def timed(score: Callable[[str], float], texts: Sequence[str]) -> tuple[list[float], list[float]]:
    """Scores and milliseconds per call, one call at a time."""
    scores: list[float] = []
    millis: list[float] = []
    for text in texts:
        started = time.perf_counter()
        scores.append(score(text))
        millis.append((time.perf_counter() - started) * 1000)
    return scores, millis


def latency(millis: Sequence[float]) -> dict[str, float]:
    return {
        "calls": len(millis),
        "p50_ms": round(percentile(millis, 50), 2),
        "p99_ms": round(percentile(millis, 99), 2),
    }


def run(options: argparse.Namespace) -> dict[str, Any]:
    cache = Path.home() / ".cache" / "llmaas" / "models"
    results: dict[str, Any] = {"environment": environment(), "threads": options.threads}
    results["load_average_before"] = os.getloadavg()
    with running_embedder(embedded_minilm(cache, options.threads), MINILM_MODEL) as embedder:
        detector = LearnedInjectionDetector.from_file(embedder)
        threshold = detector.threshold
        results["threshold"] = threshold
        sets = evaluation_sets()
        warm = [text for text, _ in sets["held-out test split"][: options.warmup]]
        timed(detector.score, warm)
        one_window: list[float] = []
        several: list[float] = []
        results["accuracy"] = {}
        for name, rows in sets.items():
            texts = [text for text, _ in rows]
            scores, millis = timed(detector.score, texts)
            for text, elapsed in zip(texts, millis, strict=True):
                windows = len(detector.windowing.windows(text))
                (one_window if windows <= 1 else several).append(elapsed)
            results["accuracy"][name] = accuracy(scores, [y for _, y in rows], threshold)
        clean, buried = long_inputs(options.long)
        clean_scores, clean_millis = timed(detector.score, clean)
        buried_scores, buried_millis = timed(detector.score, buried)
        results["accuracy"]["2,000-word inputs"] = accuracy(
            clean_scores + buried_scores, [0] * len(clean) + [1] * len(buried), threshold
        )
        results["latency"] = {
            "prompts of one window (up to 32 words)": latency(one_window),
            "prompts of several windows (33 to about 600 words)": latency(several),
            "2,000-word inputs": latency(clean_millis + buried_millis),
        }
        results["windows_per_long_input"] = len(detector.windowing.windows(clean[0]))
    results["load_average_after"] = os.getloadavg()
    return results


def accuracy_table(accuracy_by_set: dict[str, dict[str, Any]]) -> list[str]:
    """The Markdown table every injection bench prints: one row per evaluation set."""
    lines = [
        "| set | injections | benign | recall | false-positive rate |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in accuracy_by_set.items():
        recall = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        fpr = "-" if row["false_positive_rate"] is None else f"{row['false_positive_rate']:.3f}"
        lines.append(f"| {name} | {row['injections']} | {row['benign']} | {recall} | {fpr} |")
    return lines


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Learned injection detector alone, threshold {results['threshold']:.3f}, "
        f"{results['threads']} ONNX threads",
        "",
        *accuracy_table(results["accuracy"]),
    ]
    lines += ["", "| input | calls | added p50 (ms) | added p99 (ms) |", "|---|---:|---:|---:|"]
    for name, row in results["latency"].items():
        lines.append(f"| {name} | {row['calls']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |")
    before = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    lines += ["", f"load average before: {before}; windows per 2,000-word input: "
              f"{results['windows_per_long_input']}"]  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured calls first")
    parser.add_argument("--long", type=int, default=10, help="2,000-word inputs (clean and buried)")
    parser.add_argument("--report", type=Path, help="print a saved results file instead of running")
    options = parser.parse_args(argv)
    return options, options.report


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    return run_and_report("injection_detector", lambda: run(options), report, saved)


if __name__ == "__main__":
    sys.exit(main())
