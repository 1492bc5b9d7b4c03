"""The watchlist kept in the database: seeded from the config, edited in the app, remembered
across restarts, and what the engine refreshes first; and the intraday series the sparklines
and the chart draw."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.config import AlertRule, Settings
from momoscan.models import Quote, Ticker
from momoscan.runtime import RunOptions, open_runtime
from momoscan.store import Store

START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


def test_the_config_seeds_the_list_and_a_removal_is_remembered(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store(path) as store:
        assert store.seed_watchlist(["NVDA", "AMD", "SPX"], at=1.0) == 3
        assert store.watchlist() == ["NVDA", "AMD", "SPX"]
        assert store.unwatch("AMD", at=2.0) is True
        assert store.unwatch("AMD", at=2.5) is False
        assert store.watch("TSLA", at=3.0) is True
        assert store.watch("NVDA", at=3.5) is False
    # A restart seeds again from the same config: AMD stays removed, nothing doubles.
    with Store(path) as store:
        assert store.seed_watchlist(["NVDA", "AMD", "SPX", "PLTR"], at=4.0) == 1
        assert store.watchlist() == ["NVDA", "SPX", "TSLA", "PLTR"]
        # Added again in the app, it goes to the end.
        assert store.watch("AMD", at=5.0) is True
        assert store.watchlist() == ["NVDA", "SPX", "TSLA", "PLTR", "AMD"]


def options(db: Path) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
    )


@pytest.mark.anyio
async def test_the_engine_refreshes_the_database_list_first(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    settings = Settings()
    settings.scan.watchlist = ["AMD", "MU"]
    settings.universe.cap_tiers = ["small", "mid", "large", "mega"]
    async with open_runtime(settings, options(db)) as rt:
        engine = rt.engine
        assert await engine.load_watchlist() == ["AMD", "MU"]
        assert await engine.unwatch("mu") == ("MU", True)
        assert await engine.watch(" tsla ") == ("TSLA", True)
        assert await engine.watch("AMD") == ("AMD", False)
        # Spelled as momoscan spells it, but no source knows it: refused, in one sentence.
        with pytest.raises(ValueError, match=r"^BRK\.B is not a listing momoscan knows: .*\.$"):
            await engine.watch(" brk-b ")
        with pytest.raises(ValueError, match="ZZZZ is not a listing"):
            await engine.watch("ZZZZ")
        with pytest.raises(ValueError, match="is an option contract"):
            await engine.watch("AAPL  260918C00260000")
    # Restarted with the same config: the edits hold, and the sweep starts with them.
    async with open_runtime(settings, options(db)) as rt:
        engine = rt.engine
        assert await engine.load_watchlist() == ["AMD", "TSLA"]
        tickers = [Ticker(s, s) for s in ("AAPL", "AMD", "TSLA", "MU", "NVDA", "ZZZ")]
        plan = await engine.scheduler.plan(tickers, full=True, window=10)
        assert plan.symbols[:2] == ["AMD", "TSLA"]
        # Symbols that alert rules watch come right after the watchlist.
        settings.alerts.rules = [AlertRule(symbol="NVDA", price_above=1.0)]
        assert engine.ctx.watched() == ["AMD", "TSLA", "NVDA"]
        report = await engine.refresh()
    assert report.status in ("ok", "partial"), report.lines()
    with Store(db) as store:
        rows = queries.watchlist_rows(store, START.timestamp())
    assert [r.symbol for r in rows] == ["AMD", "TSLA"]
    amd = rows[0]
    assert amd.in_universe and amd.row is not None and amd.row.price > 0
    assert amd.options_share is not None and amd.options_share > 0  # its chain is fetched


def test_sparklines_and_the_chart_series_come_from_the_stored_samples(tmp_path: Path) -> None:
    day = date(2026, 11, 20)
    open_at = int(datetime(2026, 11, 20, 9, 30, tzinfo=mh.ET).timestamp())
    with Store(tmp_path / "s.db") as store:
        store.replace_universe(
            [Ticker("AAA", "Alpha"), Ticker("BBB", "Beta")], source="t", as_of=day, fetched_at=0
        )
        # Yesterday's sample is not today's path.
        store.store_quotes(
            [Quote("AAA", 9.0, market_open=True, quote_ts=open_at - 86400)], fetched_at=0
        )
        for minutes, price, volume in (
            (0, 10.0, 100),
            (5, 10.5, 300),
            (7, 10.4, 350),
            (10, 11.0, 900),
        ):
            store.store_quotes(
                [
                    Quote(
                        "AAA",
                        price,
                        prev_close=10.0,
                        volume=volume,
                        market_open=True,
                        quote_ts=open_at + minutes * 60,
                    )
                ],
                fetched_at=0,
            )
        # A streamed trade lands in the history too.
        store.store_stream_ticks([("AAA", 11.2, 12.0, 1000, open_at + 11 * 60)], 0.0)
        now = open_at + 12 * 60
        sparks = queries.sparklines(store, ["AAA", "BBB"], start=queries.session_start(store, now))
        series = queries.intraday_series(store, "AAA", now)
    # One point per stored sample: the 5-minute buckets keep their newest.
    assert sparks["AAA"].prices == [10.0, 10.4, 11.2]
    assert sparks["AAA"].prev_close == 10.0
    assert sparks["BBB"].prices == [] and sparks["BBB"].prev_close is None
    assert series.prices == [10.0, 10.4, 11.2]
    assert series.times == [open_at, open_at + 300, open_at + 600]
    assert series.prev_close == 10.0
    assert series.volume_bars() == [100, 250, 650]
