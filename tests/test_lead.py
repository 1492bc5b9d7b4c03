"""Options-led or price-led (lead.py, queries/lead.py): which came first, by how long."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from momoscan import market_hours as mh
from momoscan.lead import WINDOW_S, Lead, duration_text, pair
from momoscan.queries.lead import SAMPLE_OFFSET_S, lead_signals, leads
from momoscan.signals import Signal
from momoscan.store import Store

DAY = date(2026, 11, 19)


def _at(hh: int, mm: int, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=mh.ET).timestamp()


def test_text_says_the_order_and_the_gap() -> None:
    assert Lead("AAA", "options", 35 * 60, 0.0, 35 * 60).text == "opt→px 35m"
    assert Lead("AAA", "price", 12 * 60, 12 * 60, 0.0).text == "px→opt 12m"
    assert duration_text(65 * 60) == "1h05"


def test_pair_orders_and_leaves_out_what_is_too_far_apart() -> None:
    found = pair(
        {"OPT": 1000.0, "PX": 5000.0, "FAR": 0.0, "ALONE": 10.0},
        {"OPT": (1000.0 + 1800, 1), "PX": (5000.0 - 600, -1), "FAR": (WINDOW_S + 1, 1)},
    )
    assert set(found) == {"OPT", "PX"}
    assert found["OPT"].first == "options" and found["OPT"].gap_s == 1800
    assert found["PX"].first == "price" and found["PX"].gap_s == 600
    assert found["PX"].direction == -1


def _signal(kind: str, symbol: str, at: float, direction: int = 1) -> Signal:
    return Signal(kind, symbol, at, DAY, 10.0, direction, price_at=at, source="test")


def test_leads_read_the_signals_and_the_stored_prices(tmp_path: Path) -> None:
    with Store(tmp_path / "lead.db") as store:
        prev = _at(15, 55, mh.previous_trading_day(DAY))
        rows = [("OPT", prev, 10.0, 1), ("PX", prev, 20.0, 1)]
        # OPT: +2% until 10:30, +6% from the 10:30 bucket on; PX: -6% at 09:40 already.
        for minute in range(0, 120, 5):
            ts = _at(9, 30) + minute * 60
            rows.append(("OPT", ts, 10.6 if ts >= _at(10, 30) else 10.2, 1000))
            rows.append(("PX", ts, 18.8 if ts >= _at(9, 40) else 19.9, 1000))
        store.add_history(rows)
        with store.transaction():
            store.record_signals(
                [
                    _signal("unusual", "OPT", _at(10, 0)),
                    _signal("unusual", "PX", _at(10, 0)),
                    # The day before's options volume, announced at 10:00: no timing.
                    _signal("options_new", "NEW", _at(10, 0)),
                    _signal("movers", "QUIET", _at(10, 0)),
                ]
            )
        found = leads(store, DAY)
        assert set(found) == {"OPT", "PX"}
        opt, px = found["OPT"], found["PX"]
        assert opt.first == "options" and opt.price_at == _at(10, 30) + SAMPLE_OFFSET_S
        assert opt.text == "opt→px 34m"
        assert px.first == "price" and px.direction == -1
        assert px.options_at == _at(10, 0) and px.price_at == _at(9, 40) + SAMPLE_OFFSET_S
        signals = lead_signals(store, DAY)
        assert [(s.kind, s.symbol, s.detail, s.price) for s in signals] == [
            ("lead", "OPT", "opt→px 34m", 10.6)
        ]


def test_a_movers_signal_before_the_stored_move_is_the_price_run(tmp_path: Path) -> None:
    with Store(tmp_path / "lead.db") as store:
        with store.transaction():
            store.record_signals(
                [_signal("unusual", "AAA", _at(11, 0)), _signal("movers", "AAA", _at(11, 20))]
            )
        found = leads(store, DAY)
        assert found["AAA"].text == "opt→px 20m"
        assert leads(store, mh.next_trading_day(DAY)) == {}
