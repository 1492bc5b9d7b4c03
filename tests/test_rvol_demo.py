"""The demo's check of RVol at the time of day (issue 27): in the simulated market, names with no
story planted that day read about 1x at 10:00 and at 14:00, whether measured against the curve
(a fresh database) or against their own history (earlier simulated sessions stored as a
collector would have stored them), while the whole-day figure reads a fraction at 10:00."""

from __future__ import annotations

import statistics
from datetime import date, datetime, time
from pathlib import Path

import orjson
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.history import session_rows
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import quote_objects
from momoscan.sources.twelvedata import parse_quote_body
from momoscan.store import Store

DAY = date(2026, 11, 19)  # a Thursday
EARLIER = mh.trading_days_before(DAY, 4)
TIERS = ["nano", "micro", "small", "mid", "large", "mega"]


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=mh.ET)


def sweep(store: Store, market: SimMarket, symbols: list[str], now: datetime) -> None:
    """Quote `symbols` through the simulated /quote and the real parser, as a sweep does."""
    for i in range(0, len(symbols), 120):
        chunk = symbols[i : i + 120]
        body = orjson.dumps(quote_objects(market, chunk, ",".join(chunk)))
        quotes, errors = parse_quote_body(body, chunk)
        store.store_quotes(quotes, errors, fetched_at=now.timestamp())


def medians(store: Store, symbols: list[str]) -> tuple[float, float]:
    marks = ",".join("?" for _ in symbols)
    rows = store.conn.execute(
        f"SELECT rvol, rvol_day FROM quotes WHERE symbol IN ({marks}) AND rvol IS NOT NULL",
        symbols,
    ).fetchall()
    assert len(rows) >= 0.9 * len(symbols)
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)


@pytest.fixture
def market() -> SimMarket:
    return SimMarket(7, 0, FixedClock(at(EARLIER[0], 9, 0)))


def quiet(market: SimMarket, day: date) -> list[str]:
    """The stocks with no story planted on `day` (no runner, news, fade or sympathy move)."""
    story = {mv.index for mv in market.movers_for(day)}
    return [s.symbol for i, s in enumerate(market.stocks) if i not in story and s.avg_volume]


def test_names_at_their_usual_pace_read_about_1x_against_the_curve(
    tmp_path: Path, market: SimMarket
) -> None:
    names = quiet(market, DAY)
    assert len(names) > 500
    with Store(tmp_path / "demo.db") as store:
        store.replace_universe(
            [s.ticker() for s in market.stocks], source="demo", as_of=DAY, fetched_at=0.0
        )
        clock = market.clock
        assert isinstance(clock, FixedClock)
        readings = {}
        for hh in (10, 14):
            clock.at = at(DAY, hh, 0)
            sweep(store, market, names, clock.at)
            readings[hh] = medians(store, names)
        assert 0.7 <= readings[10][0] <= 1.4, readings
        assert 0.7 <= readings[14][0] <= 1.4, readings
        # The whole-day figure at 10:00: a fraction of a day (most of it is still to trade).
        assert 0.1 <= readings[10][1] <= 0.3, readings


def test_with_history_the_names_own_profiles_take_over_and_read_about_1x(
    tmp_path: Path, market: SimMarket
) -> None:
    names = quiet(market, DAY)
    clock = market.clock
    assert isinstance(clock, FixedClock)
    with Store(tmp_path / "demo.db") as store:
        store.replace_universe(
            [s.ticker() for s in market.stocks], source="demo", as_of=DAY, fetched_at=0.0
        )
        # Four earlier sessions' history, each session's 5-minute samples, as the demo seeds it.
        for day in EARLIER:
            clock.at = at(day, 16, 30)
            store.add_history(session_rows(market, TIERS))
        built = store.refresh_volume_profiles(DAY)
        assert built >= 0.9 * len(market.stocks)
        readings = {}
        for hh in (10, 14):
            clock.at = at(DAY, hh, 0)
            sweep(store, market, names, clock.at)
            readings[hh] = medians(store, names)
        # Against their own usual day the names read nearer 1 than against the curve (whose
        # open is lighter than the simulated market's).
        assert 0.85 <= readings[10][0] <= 1.15, readings
        assert 0.85 <= readings[14][0] <= 1.15, readings
