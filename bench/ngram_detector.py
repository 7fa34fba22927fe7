"""The hashed n-gram prompt-injection detector alone: recall, false-positive rate and added latency.

What it runs: ``NgramInjectionDetector`` with the packaged weights, numpy only, in this one thread
(the scoring is elementwise numpy work and never enters BLAS, so no library thread pool is involved).
No other guardrail layer.

* Accuracy, at the packaged threshold and at the strict one: the held-out test split, the hand-written
  French set and English benign prompts that say "ignore"/"system" (the same sets, built the same way,
  as ``bench/injection_detector.py``), then 2,000-word inputs of benign test texts, clean and with one
  test injection halfway.
* Latency: the wall time of one call, one call at a time after ``--warmup`` calls, p50 and p99
  (nearest rank), for 50-word chat messages (the test split's texts run together and cut every 50
  words), for every evaluation prompt as it is, and for the 2,000-word inputs. Each is measured as
  ``score(text)`` (normalisation included: what the detector adds on its own) and as
  ``score_normalised`` (what it adds when the guard normalises once for all its layers), next to
  ``normalise`` alone.

The machine's load average is recorded with the results: on a shared machine it explains outliers.
Writes ``bench/results/ngram_detector-<time>.json``.

    .venv/bin/python bench/ngram_detector.py              # about 20 seconds
    .venv/bin/python bench/ngram_detector.py --repeat 5   # each timed input measured 5 times
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness import environment, percentile, run_and_report
from injection_detector import (
    accuracy,
    accuracy_table,
    evaluation_sets,
    long_inputs,
    read_jsonl,
    timed,
)
from llmaas.adapters.guardrails.ngram import WEIGHTS_FILE, NgramInjectionDetector
from llmaas.adapters.guardrails.normalisation import normalise

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "injection"
MESSAGE_WORDS = 50


def chat_messages() -> list[str]:
    """The test split's texts run together, cut every 50 words: typical message length, real text."""
    corpus = read_jsonl(FIXTURES / "corpus.jsonl")
    words = " ".join(r["text"] for r in corpus if r["split"] == "test").split()
    return [
        " ".join(words[start : start + MESSAGE_WORDS])
        for start in range(0, len(words) - MESSAGE_WORDS + 1, MESSAGE_WORDS)
    ]


def timed_ways(
    detector: NgramInjectionDetector, texts: Sequence[str], repeat: int
) -> dict[str, dict[str, float]]:
    """p50/p99 of the three ways of calling, each input measured ``repeat`` times."""
    normalised = [normalise(text) for text in texts]
    ways: dict[str, tuple[Callable[[Any], object], Sequence[Any]]] = {
        "score (normalise included)": (detector.score, texts),
        "score_normalised": (detector.score_normalised, normalised),
        "normalise alone": (normalise, texts),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (function, inputs) in ways.items():
        millis: list[float] = []
        for _ in range(repeat):
            millis.extend(_timed_calls(function, inputs))
        results[name] = latency(millis)
    return results


def _timed_calls(function: Callable[[Any], object], inputs: Sequence[Any]) -> list[float]:
    """Milliseconds per call, one call at a time."""
    millis: list[float] = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        millis.append((time.perf_counter() - started) * 1000)
    return millis


def latency(millis: Sequence[float]) -> dict[str, float]:
    """Three decimals: the figures are fractions of a millisecond."""
    return {
        "calls": len(millis),
        "p50_ms": round(percentile(millis, 50), 3),
        "p99_ms": round(percentile(millis, 99), 3),
    }


def run(options: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"environment": environment(), "weights_file": WEIGHTS_FILE}
    results["load_average_before"] = os.getloadavg()
    detector = NgramInjectionDetector.from_file()
    results["threshold"] = detector.threshold
    results["strict_threshold"] = detector.strict_threshold
    sets = evaluation_sets()
    timed(detector.score, [text for text, _ in sets["held-out test split"][: options.warmup]])
    clean, buried = long_inputs(options.long)
    results["accuracy"] = {}
    prompts: list[str] = []
    for name, rows in [*sets.items(), ("2,000-word inputs", _long_rows(clean, buried))]:
        texts = [text for text, _ in rows]
        scores = detector.score_many(texts)
        labels = [label for _, label in rows]
        results["accuracy"][name] = accuracy(scores, labels, detector.threshold)
        results["accuracy"][f"{name} (strict)"] = accuracy(
            scores, labels, detector.strict_threshold
        )
        if name != "2,000-word inputs":
            prompts.extend(texts)
    results["latency"] = {
        f"{MESSAGE_WORDS}-word chat messages": timed_ways(
            detector, chat_messages(), options.repeat
        ),
        "evaluation prompts as they are": timed_ways(detector, prompts, options.repeat),
        "2,000-word inputs": timed_ways(detector, clean + buried, options.repeat),
    }
    results["load_average_after"] = os.getloadavg()
    return results


def _long_rows(clean: list[str], buried: list[str]) -> list[tuple[str, int]]:
    return [(text, 0) for text in clean] + [(text, 1) for text in buried]


def report(results: dict[str, Any]) -> str:
    lines = [
        f"n-gram injection detector alone, threshold {results['threshold']:.3f} "
        f"(strict {results['strict_threshold']:.3f}), one thread",
        "",
        *accuracy_table(results["accuracy"]),
    ]
    lines += ["", "| input | call | calls | p50 (ms) | p99 (ms) |", "|---|---|---:|---:|---:|"]
    for name, ways in results["latency"].items():
        for way, row in ways.items():
            lines.append(
                f"| {name} | {way} | {row['calls']} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} |"
            )
    before = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    lines += ["", f"load average before: {before}"]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls first")
    parser.add_argument("--long", type=int, default=20, help="2,000-word inputs (clean and buried)")
    parser.add_argument("--repeat", type=int, default=3, help="times each timed input is scored")
    parser.add_argument("--report", type=Path, help="print a saved results file instead of running")
    options = parser.parse_args(argv)
    return options, options.report


def main(argv: Sequence[str] | None = None) -> int:
    options, saved = parse_args(argv)
    return run_and_report("ngram_detector", lambda: run(options), report, saved)


if __name__ == "__main__":
    sys.exit(main())
