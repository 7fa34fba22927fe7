"""The prompt-injection evaluation sets (``tests/fixtures/injection``) and the two figures every
detector is judged by, shared by the tests of each detector and of the guard as a whole."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "injection"

Row = dict[str, Any]


def rows(name: str) -> list[Row]:
    text = (FIXTURES / name).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def held_out() -> list[Row]:
    """The corpus's test split: never trained on, never used to choose a threshold."""
    return [row for row in rows("corpus.jsonl") if row["split"] == "test"]


def handwritten(name: str) -> list[Row]:
    """``french`` or ``english-benign-keywords``: written for evaluation only."""
    return [row for row in rows("handwritten.jsonl") if row["set"] == name]


def rates(flagged: Sequence[bool], chosen: Sequence[Row]) -> tuple[float, float]:
    """Recall on the injections and false-positive rate on the benign rows (recall 1.0 for a set
    without injections)."""
    attacks = [f for f, row in zip(flagged, chosen, strict=True) if row["label"] == 1]
    benign = [f for f, row in zip(flagged, chosen, strict=True) if row["label"] == 0]
    recall = sum(attacks) / len(attacks) if attacks else 1.0
    return recall, sum(benign) / len(benign) if benign else 0.0
