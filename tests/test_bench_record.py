"""bench/record.py --quick: one short session graded against the simulated market's truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_record_quick_grades_every_outcome_against_the_truth() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "record.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    doc = json.loads(done.stdout)
    assert doc["sessions"] == 1
    assert doc["outcomes_graded"] > 100
    # Every measured outcome within one quote interval of the true path.
    assert doc["outcomes_right"] == doc["outcomes_graded"], doc["wrong"]
    records = doc["records"]
    for kind in ("movers", "volume", "gapper", "options_new", "lead"):
        assert records[kind]["measured"] > 0, kind
        assert records[kind]["record_pct"] == records[kind]["true_pct"], kind
    assert doc["new_entrants"]["signals"] > 0
