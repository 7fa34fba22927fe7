"""The soak benchmark's five-minute variant: mixed traffic through the full path, memory watched.

``bench/soak.py`` runs the hour-long version (a benchmark, not a test); here five minutes must not
grow the gateway's resident memory by more than 10 % after the first minute's warm-up, and every
request of the mix must get the answer its kind calls for (no 5xx, no connection error).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_five_minutes_of_mixed_traffic_grow_memory_by_less_than_ten_percent(
    tmp_path: Path,
) -> None:
    results_path = tmp_path / "soak.json"
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--minutes", "5", "--max-growth", "10"),
            *("--json", str(results_path)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(results_path.read_text())
    print(
        f"\nsoak, 5 minutes: RSS growth {results['rss_growth_percent']} %, "
        f"p50 drift {results['latency_drift']}, statuses {results['statuses']}"
    )
    assert len(results["samples"]) == 5
    assert results["rss_growth_percent"] <= 10
    statuses = results["statuses"]
    assert set(statuses) == {"200", "400", "404", "429"}, statuses
    total = sum(statuses.values())
    # the mix: 1 request in 20 to an unknown model, 2 refused (malformed, guardrail); the
    # limited key (1 in 20) gets 5 a minute through and 429 otherwise
    assert abs(statuses["404"] - total / 20) <= 2
    assert abs(statuses["400"] - total / 10) <= 4
    assert statuses["200"] >= 0.8 * total
