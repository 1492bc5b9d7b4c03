"""bench/detect.py's quick run (its CI smoke): the default case (the default cap tiers inside
the whole simulated market) and the catalyst case (free signals on and off) measured on the
real engine, and the catalyst on/off line printed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture()
def detect() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        import detect as module

        yield module
    finally:
        sys.path.remove(str(BENCH))


def test_the_quick_run_measures_the_default_and_catalyst_cases(
    detect: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--quick", "--case", "default,catalyst", "--plans", "55", "--runners", "mixed"]
    assert detect.main([*argv, "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["default_tiers"] == ["small", "mid", "large"]
    pair = doc["default"]["plans"]["55"]
    for key in ("round_robin", "scheduler"):
        # The same stories for both strategies, every one shown or missed.
        assert pair[key]["runners"] == pair["scheduler"]["runners"] > 0
        assert pair[key]["credits"] > 0
    assert "all" not in doc and "plans" not in doc  # only the cases asked for
    told = doc["catalyst"]
    assert set(told) <= {"55"}
    for figures in told.values():
        assert set(figures) == {"on", "off"}
        assert figures["on"]["runners"] == figures["off"]["runners"] > 0
    lines = detect.catalyst_lines(doc)
    assert lines and (lines[0].startswith("catalyst on: median ") or "no story" in lines[0])
