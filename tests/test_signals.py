"""signals.py: kinds, the badge's words and its minimum sample, and the figures of a
horizon."""

from __future__ import annotations

import pytest

from momoscan.config import AlertRule
from momoscan.signals import (
    SHORT,
    SIGNAL_KINDS,
    Record,
    badge,
    directed_move,
    horizon_stats,
    kind_of_event,
    kind_words,
    rule_kind,
    short_label,
)


def _record(kind: str, count: int, hits: int) -> Record:
    return Record(kind, 5.0, count, hits, 1.0, -3.0)


def test_badge_shows_the_sample_and_none_below_the_minimum() -> None:
    assert badge(_record("options_new", 21, 9), 10) == "NEW · 9/21 ≥5% by close"
    assert badge(_record("options_new", 9, 9), 10) is None
    assert badge(None, 10) is None
    # A minimum of 0 still asks for one measured signal: "0/0" would say nothing.
    assert badge(_record("movers", 0, 0), 0) is None
    assert badge(Record("movers", 2.5, 12, 3, 0.1, -1.0), 10) == "TOP · 3/12 ≥2.5% by close"


def test_kinds_of_stored_alert_events() -> None:
    assert kind_of_event("scanner", "Top movers") == "movers"
    assert kind_of_event("scanner", "Top volume") == "volume"
    assert kind_of_event("scanner", "Options top 10") == "options_new"
    rule = AlertRule(pct_above=5.0, rvol_above=3.0)
    assert kind_of_event(rule.key, "") == "rule:pct_above+rvol_above"
    speed = AlertRule(symbol="NVDA", pct_in_minutes=(3.0, 10), new_high=True)
    assert kind_of_event(speed.key, "fast") == "rule:new_high+pct_in_minutes"
    assert rule_kind(["rvol_above", "pct_above"]) == "rule:pct_above+rvol_above"
    assert short_label("rule:pct_above+rvol_above") == "CHG≥+RVOL"
    assert kind_words("rule:new_high") == "alert rule: new high of the day"
    assert set(SHORT) == set(SIGNAL_KINDS)  # every kind has its badge's label


def test_horizon_figures_and_direction() -> None:
    stats = horizon_stats("close", [-4.0, 1.0, 5.0, 9.0], 5.0)
    assert (stats.count, stats.hits, stats.median, stats.worst, stats.best) == (
        4,
        2,
        3.0,
        -4.0,
        9.0,
    )
    assert stats.share == 0.5
    assert horizon_stats("1h", [], 5.0).share is None
    assert directed_move(10.0, 9.0, -1) == pytest.approx(10.0)
    assert directed_move(10.0, 9.0, 1) == pytest.approx(-10.0)
