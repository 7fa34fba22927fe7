"""The prompt-injection guard as the gateway runs it: accuracy per evaluation set and added latency.

What it runs: ``LayeredInjectionDetector`` with the packaged classifier, exactly what ``Guarding``
calls for each user message, tool result and prompt (normalisation, structural checks, the English and
French patterns, then the classifier on what the patterns found clean). Then the same without the
classifier, to show what each part contributes.

- Accuracy: the held-out test split of ``tests/fixtures/injection/corpus.jsonl`` (never trained on,
  never used to pick a threshold), the hand-written French set, the English benign prompts that say
  "ignore", "system", "instructions", and 2,000-word documents (benign test texts joined; the same
  with one test-split injection buried halfway).
- Latency: one call per text, single-threaded, p50 and p99 per input size. In the gateway texts up to
  8,000 characters are scanned on the event loop and longer ones in a worker thread.

    .venv/bin/python bench/guardrail.py             # about 20 seconds
    .venv/bin/python bench/guardrail.py --report bench/results/guardrail-<time>.json
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import environment, run_and_report
from injection_detector import (
    accuracy,
    accuracy_table,
    evaluation_sets,
    latency,
    long_inputs,
    timed,
)
from llmaas.adapters.guardrails.layered import LayeredInjectionDetector, packaged_detector
from llmaas.domain.guardrails import Origin

SHORT_WORDS = 50
FLAGGED = 1.0
"""The guard's verdict scored as 1.0 (a threat found) or 0.0, read at this threshold."""


def measure(detector: LayeredInjectionDetector, long: int) -> dict[str, Any]:
    def flag(text: str) -> float:
        return 1.0 if detector.threats(text, Origin.USER) else 0.0

    results: dict[str, Any] = {"accuracy": {}}
    short: list[float] = []
    longer: list[float] = []
    for name, rows in evaluation_sets().items():
        texts = [text for text, _ in rows]
        flags, millis = timed(flag, texts)
        for text, elapsed in zip(texts, millis, strict=True):
            (short if len(text.split()) <= SHORT_WORDS else longer).append(elapsed)
        results["accuracy"][name] = accuracy(flags, [y for _, y in rows], FLAGGED)
    clean, buried = long_inputs(long)
    clean_flags, clean_millis = timed(flag, clean)
    buried_flags, buried_millis = timed(flag, buried)
    results["accuracy"]["2,000-word documents"] = accuracy(
        clean_flags + buried_flags, [0] * len(clean) + [1] * len(buried), FLAGGED
    )
    results["latency"] = {
        f"messages up to {SHORT_WORDS} words": latency(short),
        f"messages over {SHORT_WORDS} words": latency(longer),
        "2,000-word documents": latency(clean_millis + buried_millis),
    }
    return results


def run(options: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"environment": environment(), "load_average": os.getloadavg()}
    results["all layers"] = measure(packaged_detector(), options.long)
    results["without the classifier"] = measure(packaged_detector(classifier=False), options.long)
    return results


def report(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for variant in ("all layers", "without the classifier"):
        measured = results[variant]
        lines += [f"Guard: {variant}", "", *accuracy_table(measured["accuracy"])]
        lines += ["", "| input | calls | added p50 (ms) | added p99 (ms) |", "|---|---:|---:|---:|"]
        for name, row in measured["latency"].items():
            lines.append(f"| {name} | {row['calls']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |")
        lines.append("")
    load = ", ".join(f"{x:.2f}" for x in results["load_average"])
    lines.append(f"load average before: {load}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--long", type=int, default=10, help="2,000-word documents of each kind")
    parser.add_argument("--report", type=Path, help="print a saved results file instead of running")
    options = parser.parse_args(argv)
    return run_and_report("guardrail", lambda: run(options), report, options.report)


if __name__ == "__main__":
    sys.exit(main())
