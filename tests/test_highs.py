"""Highs of the day: polled quotes and streamed trades make them (regular session only, a day
at a time, the first print not "new"), `queries.day_highs` reads them, and a `new_high` rule
fires once per new high, across runs, with what it says."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import alerts
from momoscan import market_hours as mh
from momoscan.config import AlertRule
from momoscan.models import AlertEvent, DayHigh, Quote, Ticker
from momoscan.queries import day_highs
from momoscan.store import Store

DAY = date(2026, 11, 20)  # a Friday
NEXT = date(2026, 11, 23)  # the Monday after
TIERS = ["small", "mid", "large"]


def et(day: date, hh: int, mm: int, ss: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=mh.ET).timestamp()


def quote(
    symbol: str,
    price: float,
    at: float,
    *,
    high: float | None = None,
    change: float = 5.0,
    extended: bool = False,
) -> Quote:
    return Quote(
        symbol,
        price,
        high=high,
        prev_close=price / (1 + change / 100),
        change_pct=change,
        volume=5000,
        avg_volume=1000,
        market_open=not extended,
        quote_ts=int(at),
        extended=extended,
    )


def tick(symbol: str, price: float, at: float) -> tuple[str, float, float | None, int | None, int]:
    return (symbol, price, 5.0, 6000, int(at))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    with Store(path) as store:
        store.replace_universe(
            [
                Ticker("AAA", "Alpha", "NASDAQ", "XNGS", "small"),
                Ticker("BBB", "Beta", "", "", "mid"),
            ],
            source="test",
            as_of=DAY,
            fetched_at=0.0,
        )
    return path


def highs(path: Path, day: date = DAY) -> dict[str, DayHigh]:
    with Store(path) as store:
        return day_highs(store, day)


def test_quotes_and_trades_of_the_regular_session_make_the_days_highs(db: Path) -> None:
    with Store(db) as store:
        # Pre-market: no high, however high.
        store.store_quotes([quote("AAA", 12.0, et(DAY, 9, 0), extended=True)], fetched_at=1.0)
        assert day_highs(store, DAY) == {}
        # The first regular quote sets the high from the day's high /quote gives: not new.
        store.store_quotes([quote("AAA", 10.0, et(DAY, 9, 31), high=10.5)], fetched_at=2.0)
        assert day_highs(store, DAY) == {"AAA": DayHigh("AAA", 10.5, 0, et(DAY, 9, 31))}
        store.store_quotes([quote("AAA", 10.4, et(DAY, 9, 40), high=10.5)], fetched_at=3.0)
        # A streamed trade above it is a new high, at the trade's time; one at it is not.
        store.store_stream_ticks([tick("AAA", 10.6, et(DAY, 9, 41))], 4.0)
        store.store_stream_ticks([tick("AAA", 10.6, et(DAY, 9, 42))], 5.0)
        assert day_highs(store, DAY)["AAA"] == DayHigh("AAA", 10.6, 1, et(DAY, 9, 41))
        # A poll whose day high is above (made between two looks) is one too.
        store.store_quotes([quote("AAA", 10.55, et(DAY, 9, 45), high=10.9)], fetched_at=6.0)
        assert day_highs(store, DAY)["AAA"] == DayHigh("AAA", 10.9, 2, et(DAY, 9, 45))
        # After hours: nothing moves.
        store.store_stream_ticks([tick("AAA", 12.0, et(DAY, 16, 5))], 7.0)
        assert day_highs(store, DAY)["AAA"].high == 10.9
        # In a batch of today's quotes, one of an earlier day (a halted name's) says nothing.
        store.store_quotes(
            [quote("AAA", 11.0, et(DAY, 15, 0)), quote("BBB", 50.0, et(DAY, 15, 0) - 86400)],
            fetched_at=8.0,
        )
        assert set(day_highs(store, DAY)) == {"AAA"}
        # The next session starts afresh; a late price of the day before is ignored.
        store.store_stream_ticks([tick("AAA", 9.0, et(NEXT, 9, 30, 5))], 9.0)
        store.store_stream_ticks([tick("AAA", 20.0, et(DAY, 15, 59))], 10.0)
        assert day_highs(store, NEXT) == {"AAA": DayHigh("AAA", 9.0, 0, et(NEXT, 9, 30, 5))}
        assert day_highs(store, DAY) == {}  # one row a name: its latest session
        assert day_highs(store, NEXT, ["BBB"]) == {}


def evaluate(path: Path, rules: list[AlertRule], now: float) -> list[AlertEvent]:
    """One evaluation on a connection of its own, as a separate run (a cron --once) makes."""
    with Store(path) as store:
        return alerts.evaluate(store, rules, tiers=TIERS, min_price=1.0, rearm_pct=1.0, now=now)


def put(path: Path, *quotes: Quote) -> None:
    with Store(path) as store:
        store.store_quotes(list(quotes), fetched_at=0.0)


def test_a_new_high_rule_fires_once_for_each_new_high(db: Path) -> None:
    rule = AlertRule(name="HOD", new_high=True)
    put(db, quote("AAA", 10.0, et(DAY, 9, 31)))
    assert evaluate(db, [rule], et(DAY, 9, 31)) == []  # the first print is no new high
    put(db, quote("AAA", 10.6, et(DAY, 9, 41)))
    (event,) = evaluate(db, [rule], et(DAY, 9, 41, 30))
    assert (event.symbol, event.name, event.price) == ("AAA", "HOD", 10.6)
    assert event.message == "AAA new high of the day $10.60 at 09:41 ET (1st today)."
    # The same high is never told twice (another run, the price now lower).
    put(db, quote("AAA", 10.5, et(DAY, 9, 42)))
    assert evaluate(db, [rule], et(DAY, 9, 42)) == []
    # Two new highs between two looks: the latest is told, once.
    put(db, quote("AAA", 10.7, et(DAY, 9, 43)))
    put(db, quote("AAA", 10.8, et(DAY, 9, 44)))
    (event,) = evaluate(db, [rule], et(DAY, 9, 44))
    assert event.message == "AAA new high of the day $10.80 at 09:44 ET (3rd today)."
    assert evaluate(db, [rule], et(DAY, 9, 45)) == []


def test_a_new_high_after_a_minimum_change_and_an_old_one_is_not_news(db: Path) -> None:
    rule = AlertRule(new_high=True, pct_above=8.0)
    put(db, quote("AAA", 10.0, et(DAY, 9, 31), change=4.0))
    put(db, quote("AAA", 10.2, et(DAY, 9, 35), change=6.0))
    assert evaluate(db, [rule], et(DAY, 9, 35)) == []  # a new high, but only +6%
    put(db, quote("AAA", 10.6, et(DAY, 9, 40), change=10.2))
    (event,) = evaluate(db, [rule], et(DAY, 9, 40))
    assert event.message == (
        "AAA new high of the day $10.60 at 09:40 ET (2nd today); at $10.60 (+10.20%): change ≥ +8%."
    )
    # A new high made longer ago than EVENT_FRESH is not told (a collector starting late).
    put(db, quote("BBB", 50.0, et(DAY, 10, 0), change=12.0))
    put(db, quote("BBB", 51.0, et(DAY, 10, 1), change=14.0))
    late = et(DAY, 10, 1) + alerts.EVENT_FRESH + 1
    assert evaluate(db, [rule], late) == []


def test_a_demo_clock_started_again_forgets_the_later_highs(db: Path) -> None:
    with Store(db) as store:
        store.store_quotes([quote("AAA", 10.0, et(DAY, 9, 31))], fetched_at=1.0)
        store.store_quotes([quote("BBB", 50.0, et(DAY, 9, 31))], fetched_at=1.0)
        store.store_quotes([quote("AAA", 11.0, et(DAY, 10, 30))], fetched_at=2.0)
        store.forget_after(et(DAY, 10, 0), DAY)
        assert day_highs(store, DAY) == {"BBB": DayHigh("BBB", 50.0, 0, et(DAY, 9, 31))}
        # The replayed morning starts AAA's day afresh.
        store.store_quotes([quote("AAA", 10.2, et(DAY, 10, 1))], fetched_at=3.0)
        assert day_highs(store, DAY)["AAA"] == DayHigh("AAA", 10.2, 0, et(DAY, 10, 1))


@pytest.mark.anyio
async def test_streamed_trades_fire_the_new_high_rule_between_cycles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream's writes move the high, and the alerts step's look at the names it moved
    tells the listeners (the headless loop, the app, the pushes)."""
    import anyio

    from momoscan.clock import FixedClock
    from momoscan.config import Settings
    from momoscan.engine import alerts as alert_step
    from momoscan.engine.context import StepContext
    from momoscan.engine.store_thread import StoreThread

    monkeypatch.setattr(alert_step, "STREAM_EVERY", 0.0)
    settings = Settings()
    settings.alerts.rules = [AlertRule(name="HOD", new_high=True)]
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    told: list[AlertEvent] = []
    try:
        await store.call(
            Store.replace_universe,
            [Ticker("AAA", "Alpha", "NASDAQ", "XNGS", "small")],
            source="t",
            as_of=DAY,
            fetched_at=0.0,
        )
        await store.call(Store.store_quotes, [quote("AAA", 10.0, et(DAY, 9, 31))], fetched_at=1.0)
        clock = FixedClock(datetime(2026, 11, 20, 9, 41, 5, tzinfo=mh.ET))
        step = alert_step.AlertStep(StepContext(settings, store, clock, "demo", lambda: 2.0))
        step.listen(told.extend)
        await store.call(Store.store_stream_ticks, [tick("AAA", 10.4, et(DAY, 9, 41))], 2.0)
        step.moved(["AAA"])
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(step.watch_stream)
                while not told:
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
    finally:
        await store.close()
    assert [e.message for e in told] == ["AAA new high of the day $10.40 at 09:41 ET (1st today)."]
