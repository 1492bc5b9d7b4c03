"""The outcome job: signals derived from what the store records, measured on stored prices
by the market clock (never the wall's), unmeasured where no price follows."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan.engine.outcomes import measure, update
from momoscan.engine.signal_sources import rule_direction
from momoscan.halts import Halt
from momoscan.queries.records import records, signal_badges
from momoscan.signals import MEASURED, PENDING, UNMEASURED, Signal
from momoscan.store import Store

DAY = date(2026, 11, 18)  # a Wednesday
NEXT = date(2026, 11, 19)


def at(hh: int, mm: int, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=mh.ET).timestamp()


def history(store: Store, symbol: str, points: list[tuple[float, float]]) -> None:
    with store.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO quote_history (symbol, ts, price, volume) VALUES (?, ?, ?, 0)",
            [(symbol, int(ts), price) for ts, price in points],
        )


def event(
    store: Store, rule: str, name: str, symbol: str, when: float, price: float | None, chg: float
) -> None:
    with store.transaction():
        store.record_events(
            [(DAY.isoformat(), rule, name, symbol, when, "m", price, chg, None, None)]
        )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "m.db")


def _by(outcomes: list, horizon: str):  # type: ignore[no-untyped-def]
    return next(o for o in outcomes if o.horizon == horizon)


def test_measure_each_horizon_in_the_signals_direction() -> None:
    sig = Signal("movers", "ABC", at(10, 2), DAY, 10.0, -1, id=1)
    samples = [
        (at(10, 0), 10.0),
        (at(10, 15), 9.5),  # holds +15 min (10:17)
        (at(10, 30), 11.0),  # the worst for a down signal
        (at(11, 0), 9.0),  # first at/after +1 h (11:02 is in the 11:00 bucket)
        (at(15, 55), 8.0),  # the close
        (at(15, 55, NEXT), 12.0),  # the next close
    ]
    out, final = measure(sig, samples, at(16, 30, NEXT))
    assert final
    assert _by(out, "15m").move_pct == pytest.approx(5.0)
    assert _by(out, "15m").age == 120.0
    assert _by(out, "1h").move_pct == pytest.approx(10.0)
    assert _by(out, "close").move_pct == pytest.approx(20.0)
    assert _by(out, "close").age == 300.0
    assert _by(out, "next_close").move_pct == pytest.approx(-20.0)
    assert _by(out, "best").move_pct == pytest.approx(20.0)
    assert _by(out, "worst").move_pct == pytest.approx(-10.0)


def test_pending_until_the_horizon_and_unmeasured_without_a_price_after_it() -> None:
    sig = Signal("movers", "ABC", at(10, 2), DAY, 10.0, 1, id=1)
    early, final = measure(sig, [(at(10, 0), 10.0)], at(10, 20))
    assert not final
    assert {o.horizon: o.status for o in early}["15m"] == PENDING
    assert {o.horizon: o.status for o in early}["close"] == PENDING
    # The name was never priced again: every horizon is unmeasured once past, none counted.
    late, final = measure(sig, [(at(10, 0), 10.0)], at(17, 0, NEXT))
    assert final
    states = {o.horizon: o.status for o in late}
    assert states["15m"] == UNMEASURED and states["1h"] == UNMEASURED
    assert states["next_close"] == UNMEASURED
    assert states["close"] == MEASURED  # the signal's own bucket is its last price
    no_price, final = measure(Signal("halt", "X", at(10, 2), DAY, None, 1, id=2), [], at(10, 3))
    assert final and all(o.status == UNMEASURED for o in no_price)


def test_a_signal_after_the_close_is_measured_at_the_next_close() -> None:
    sig = Signal("catalyst", "ABC", at(17, 0), DAY, 10.0, 1, id=1)
    out, _ = measure(sig, [(at(15, 55, NEXT), 11.0)], at(16, 10, NEXT))
    assert _by(out, "close").move_pct == pytest.approx(10.0)
    assert _by(out, "next_close").status == PENDING


def test_rule_directions() -> None:
    assert rule_direction("symbol=*;pct_below=-5.0", 3.0) == -1
    assert rule_direction("symbol=*;pct_in_minutes=(-3.0, 10)", 3.0) == -1
    assert rule_direction("symbol=*;pct_in_minutes=(3.0, 10)", -3.0) == 1
    assert rule_direction("symbol=*;rvol_above=3.0", -2.0) == -1
    assert rule_direction("symbol=NVDA;new_high=True", -2.0) == 1


def test_update_records_each_signal_once_and_measures_it(store: Store) -> None:
    for n, sym in enumerate(["AAA", "BBB", "CCC"]):
        history(store, sym, [(at(10, 0), 10.0), (at(15, 55), 10.0 + 0.4 * (n + 1))])
        event(store, "scanner", "Top movers", sym, at(10, 1), 10.0, 4.0)
    event(store, "symbol=*;pct_above=5.0", "", "AAA", at(10, 2), 10.0, 5.5)
    new, _ = update(store, now=at(10, 5), tiers=("large",), min_price=1.0)
    assert new == 4
    again, _ = update(store, now=at(10, 10), tiers=("large",), min_price=1.0)
    assert again == 0
    update(store, now=at(16, 5), tiers=("large",), min_price=1.0)
    found = records(store, move_pct=5.0)
    movers = found["movers"]
    assert (movers.count, movers.hits) == (3, 2)  # +4%, +8%, +12%: two are >= 5%
    assert movers.median == pytest.approx(8.0)
    assert movers.worst == pytest.approx(4.0)
    assert found["rule:pct_above"].count == 1
    badges = signal_badges(store, DAY, move_pct=5.0, min_sample=3)
    assert badges[("movers", "AAA")] == "TOP · 2/3 ≥5% by close"
    assert ("rule:pct_above", "AAA") not in badges  # one sample: below the minimum


def test_halts_and_resumptions_become_signals(store: Store) -> None:
    history(store, "HLT", [(at(9, 45), 10.0), (at(10, 0), 12.0), (at(10, 5), 13.0)])
    store.store_halts(
        [
            Halt(
                symbol="HLT",
                halt_day=DAY,
                halted_at=at(10, 1),
                reason="LUDP",
                resume_trade_at=at(10, 6),
            )
        ],
        seen_at=at(10, 2),
    )
    update(store, now=at(10, 30), tiers=("large",), min_price=1.0)
    got = {(s.kind, s.direction, s.price) for s in store.signals_of_day(DAY)}
    assert ("halt", 1, 12.0) in got  # up into the halt (10 -> 12)
    assert ("resume", 1, 13.0) in got  # reopened higher than it halted


def test_a_signal_without_a_price_waits_for_one(store: Store) -> None:
    event(store, "scanner", "Options top 10", "OPT", at(10, 1), None, 0.0)
    update(store, now=at(10, 5), tiers=("large",), min_price=1.0)
    assert store.signals_of_day(DAY) == []  # no price yet: not stored yet
    history(store, "OPT", [(at(10, 10), 7.5)])
    update(store, now=at(10, 35), tiers=("large",), min_price=1.0)
    (sig,) = store.signals_of_day(DAY)
    assert (sig.kind, sig.price, sig.price_at, sig.direction) == (
        "options_new",
        7.5,
        at(10, 10),
        1,
    )


def test_a_failing_source_costs_only_its_own_signals(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from momoscan.engine import signal_sources

    def broken(*_args: object, **_kwargs: object) -> list[Signal]:
        raise RuntimeError("a bug in one source")

    monkeypatch.setattr(signal_sources, "from_halts", broken)
    history(store, "AAA", [(at(10, 0), 10.0)])
    event(store, "scanner", "Top movers", "AAA", at(10, 1), 10.0, 4.0)
    new, _ = update(store, now=at(10, 5), tiers=("large",), min_price=1.0)
    assert new == 1
    assert "deriving the halts signals failed" in caplog.text


@pytest.mark.anyio
async def test_the_step_runs_every_few_market_minutes_on_the_store_thread(tmp_path: Path) -> None:
    from momoscan.clock import FixedClock
    from momoscan.config import Settings
    from momoscan.engine.context import RefreshReport, StepContext
    from momoscan.engine.outcomes import EVERY, OutcomeStep
    from momoscan.engine.store_thread import StoreThread

    path = tmp_path / "m.db"
    with Store(path) as store:
        history(store, "AAA", [(at(10, 0), 10.0), (at(10, 15), 11.0)])
        event(store, "scanner", "Top movers", "AAA", at(10, 1), 10.0, 4.0)
    thread = StoreThread(path)
    await thread.start()
    clock = FixedClock(datetime.fromtimestamp(at(10, 5), mh.ET))
    step = OutcomeStep(StepContext(Settings(), thread, clock, "demo", wall=lambda: 0.0))
    try:
        await step.run(RefreshReport(run_id=0, started=0.0))
        event_late = at(10, 6)
        with Store(path) as store:
            event(store, "scanner", "Top volume", "AAA", event_late, 10.0, 4.0)
        clock.advance(60)  # within EVERY of the last run: nothing is looked at
        await step.run(RefreshReport(run_id=0, started=0.0))
        kinds = await thread.call(lambda s: [x.kind for x in s.signals_of_day(DAY)])
        assert kinds == ["movers"]
        clock.advance(EVERY)  # 10:11: the +15 min horizon (10:16) is not due yet
        await step.run(RefreshReport(run_id=0, started=0.0))
        kinds = await thread.call(lambda s: sorted(x.kind for x in s.signals_of_day(DAY)))
        assert kinds == ["movers", "volume"]
        clock.advance(EVERY + 1200)  # 10:36: the 10:15 bucket holds +15 min
        await step.run(RefreshReport(run_id=0, started=0.0))
        moves = await thread.call(
            lambda s: s.conn.execute(
                "SELECT o.move_pct FROM signal_outcomes o JOIN signals x ON x.id = o.signal_id "
                "WHERE x.kind = 'movers' AND o.horizon = '15m' AND o.status = 'measured'"
            ).fetchall()
        )
        assert moves == [(pytest.approx(10.0),)]
    finally:
        await thread.close()
