"""The `lead` alert rule kind: fires once a day when a name becomes options-led."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from momoscan import alerts
from momoscan import market_hours as mh
from momoscan.config import AlertRule, parse_settings
from momoscan.models import Quote, Ticker
from momoscan.signals import Signal
from momoscan.store import Store

DAY = date(2026, 11, 20)
TIERS = ["small", "mid", "large"]


def at(hh: int, mm: int) -> float:
    return datetime(2026, 11, 20, hh, mm, tzinfo=mh.ET).timestamp()


def _store(path: Path, now: float) -> None:
    with Store(path) as store:
        store.replace_universe(
            [Ticker("OPT", "Opt Inc", "NASDAQ", "XNGS", "small"),
             Ticker("PX", "Px Corp", "NYSE", "XNYS", "mid")],
            source="test",
            as_of=DAY,
            fetched_at=now,
        )  # fmt: skip
        store.store_quotes(
            [
                Quote("OPT", 10.6, prev_close=10.0, change_pct=6.0, volume=5000,
                      avg_volume=1000, market_open=True, quote_ts=int(now)),
                Quote("PX", 18.8, prev_close=20.0, change_pct=-6.0, volume=5000,
                      avg_volume=1000, market_open=True, quote_ts=int(now)),
            ],
            fetched_at=now,
        )  # fmt: skip
        with store.transaction():
            store.record_signals(
                [
                    Signal("unusual", "OPT", at(10, 0), DAY, 10.2, 1),
                    Signal("movers", "OPT", at(10, 35), DAY, 10.6, 1),
                    # Price first: no options-led alert for PX.
                    Signal("movers", "PX", at(9, 45), DAY, 18.8, -1),
                    Signal("options_new", "PX", at(10, 0), DAY, 18.9, -1),
                ]
            )


def _evaluate(path: Path, rules: list[AlertRule], now: float) -> list[str]:
    with Store(path) as store:
        fired = alerts.evaluate(store, rules, tiers=TIERS, min_price=1.0, rearm_pct=1.0, now=now)
    return [f"{e.symbol}: {e.message}" for e in fired]


def test_the_lead_rule_is_parsed() -> None:
    settings = parse_settings("[[alerts.rules]]\nname = 'options first'\nlead = true\n")
    (rule,) = settings.alerts.rules
    assert rule.lead and rule.event == "lead"


def test_a_name_that_becomes_options_led_fires_once(tmp_path: Path) -> None:
    path = tmp_path / "lead.db"
    now = at(10, 36)
    _store(path, now)
    rule = AlertRule(name="Options first", lead=True)
    fired = _evaluate(path, [rule], now)
    assert fired == [
        "OPT: OPT ran in price after its options activity (opt→px 35m: options 10:00 ET, "
        "price 10:35 ET)."
    ]
    # Once a day: the next look, the next process, fire nothing.
    assert _evaluate(path, [rule], now + 60) == []
    # Told while fresh only: a collector starting hours later does not tell it.
    late = tmp_path / "late.db"
    _store(late, now)
    assert _evaluate(late, [rule], now + alerts.LEAD_FRESH + 1) == []


def test_the_lead_rule_with_a_condition_of_the_quote(tmp_path: Path) -> None:
    path = tmp_path / "lead.db"
    now = at(10, 36)
    _store(path, now)
    assert _evaluate(path, [AlertRule(lead=True, pct_above=8.0)], now) == []
