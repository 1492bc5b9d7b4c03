"""What the screens and the headless output are read from (issue 10): gainers, losers and the
largest moves; chain ages, stale chains and what the shares are of; OCC's whole-market view;
a demo restart that never mixes two clocks; JSON numbers as the sources wrote them."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.cli import main
from momoscan.models import OptionChain, Quote, Ticker, UnderlyingVolume
from momoscan.store import Store

DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=mh.ET).timestamp()
TICKERS = [Ticker(s, f"{s} Inc", "NASDAQ", "XNGS", "small") for s in ("UP", "DN", "FLAT", "BIG")]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "v.db")
    s.replace_universe(TICKERS, source="test", as_of=DAY, fetched_at=NOON)
    changes = {"UP": 12.0, "DN": -20.0, "FLAT": 0.0, "BIG": 3.0}
    s.store_quotes(
        [
            Quote(
                sym,
                10.0,
                change_pct=change,
                volume=1000 * (i + 1),
                avg_volume=500,
                market_open=True,
                quote_ts=int(NOON) - 60,
            )
            for i, (sym, change) in enumerate(changes.items())
        ],
        fetched_at=NOON,
    )
    return s


def test_gainers_losers_and_largest_moves(store: Store) -> None:
    tiers = ["small"]
    assert [r.symbol for r in queries.top_movers(store, tiers, 1.0)] == ["UP", "BIG"]
    assert [r.symbol for r in queries.top_losers(store, tiers, 1.0)] == ["DN"]
    # Either way, by size: the -20% faller first.
    assert [r.symbol for r in queries.largest_moves(store, tiers, 1.0)] == [
        "DN",
        "UP",
        "BIG",
        "FLAT",
    ]
    snap = queries.snapshot(store, tiers, 1.0, market_now=NOON, limit=2)
    assert [r.symbol for r in snap.moves] == ["DN", "UP"]
    assert snap.movers_by("losers") == snap.losers
    # The options watch set takes the largest moves, up or down.
    assert queries.mover_symbols(store, tiers, 1.0)[0] == "DN"
    assert "DN" in queries.hot_symbols(store, tiers, 1.0)


def _chain(store: Store, underlying: str, total: int, as_of: float) -> None:
    chain = OptionChain(
        underlying=underlying,
        as_of=datetime.fromtimestamp(as_of, mh.ET),
        underlying_price=100.0,
        symbols=[f"{underlying}261218C00100000"],
        roots=[underlying],
        expiries=[date(2026, 12, 18)],
        strikes=[100.0],
        rights=["C"],
        volumes=[total],
        open_interest=[10],
        ivs=[0.3],
        lasts=[1.0],
        last_trades=[None],
    )
    volume = UnderlyingVolume(DAY, underlying, total, total, 0, "cboe")
    store.store_chain(DAY, chain, volume)


def test_stale_chains_are_kept_dimmed_and_left_out_of_the_shares(store: Store) -> None:
    _chain(store, "NEW1", 600, NOON - 30)
    _chain(store, "NEW2", 400, NOON - 90)
    _chain(store, "GONE", 9000, NOON - 3600)  # left the watch set an hour ago
    shares = queries.option_shares(store, DAY, now=NOON, max_age=600)
    assert [s.underlying for s in shares] == ["NEW1", "NEW2", "GONE"]
    assert [s.stale for s in shares] == [False, False, True]
    assert [round(s.share, 3) for s in shares] == [0.6, 0.4, 0.0]  # of the fresh chains
    assert [s.age for s in shares] == [30, 90, 3600]
    # Without a limit, every chain is in the shares.
    assert round(queries.option_shares(store, DAY, now=NOON)[0].share, 3) == 0.9
    snap = queries.snapshot(store, ["small"], 1.0, market_now=NOON, chain_max_age=600)
    assert [s.underlying for s in snap.fresh_shares] == ["NEW1", "NEW2"]


def test_the_whole_market_is_the_top_names_and_all_others(store: Store) -> None:
    day = date(2026, 11, 19)
    volumes = [UnderlyingVolume(day, f"U{i:03d}", 1000 - i, 600 - i, 400, "occ") for i in range(50)]
    store.store_option_day(date(2026, 11, 19), "occ", volumes)
    store.store_option_day(date(2026, 11, 18), "occ", volumes[:5])
    market = queries.market_shares(store, top=20)
    assert market is not None and market.day == date(2026, 11, 19)  # the newest day
    assert market.underlyings == 50 and market.total == sum(v.total for v in volumes)
    assert [r.underlying for r in market.rows[:3]] == ["U000", "U001", "U002"]
    others = market.rows[-1]
    assert others.underlying == queries.OTHERS and others.grouped == 30
    assert others.total == sum(v.total for v in volumes[20:])
    assert others.calls + others.puts == others.total
    assert abs(sum(r.share for r in market.rows) - 1.0) < 1e-12
    assert queries.market_shares(store, top=100).rows[-1].underlying == "U049"  # no "others"


def _config(tmp_path: Path, start: str) -> str:
    path = tmp_path / f"c{start.replace(':', '')}.toml"
    path.write_text(f'[demo]\nstart = "{start}"\ndate = "2026-11-20"\nsize = 40\n')
    return str(path)


def test_a_demo_restart_never_mixes_two_clocks(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert (
        main(["--headless", "--once", "--db", str(db), "--config", _config(tmp_path, "14:00")]) == 0
    )
    later = datetime(2026, 11, 20, 14, 0, tzinfo=mh.ET).timestamp()
    with Store(db) as store:
        assert store.conn.execute("SELECT MAX(quote_ts) FROM quotes").fetchone()[0] > later - 600
    # The next run starts its clock at 10:00: the 14:00 figures are gone before it shows any.
    assert (
        main(["--headless", "--once", "--db", str(db), "--config", _config(tmp_path, "10:00")]) == 0
    )
    ten = datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET).timestamp()
    with Store(db) as store:
        newest_quote = store.conn.execute("SELECT MAX(quote_ts) FROM quotes").fetchone()[0]
        newest_chain = store.conn.execute(
            "SELECT MAX(as_of) FROM option_underlyings WHERE source = 'cboe'"
        ).fetchone()[0]
        history = store.conn.execute("SELECT MAX(ts) FROM quote_history").fetchone()[0]
    assert newest_quote <= ten + 120 and newest_chain <= ten + 120 and history <= ten + 120


def test_json_prices_carry_no_float_noise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--headless", "--once", "--json", "--db", str(tmp_path / "j.db"), "--demo-size", "60"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["top_movers"] + doc["top_losers"] + doc["largest_moves"] + doc["top_volume"]
    assert doc["top_losers"] and all(r["change_pct"] < 0 for r in doc["top_losers"])
    for row in rows:
        for key in ("price", "change_pct"):
            text = repr(row[key])
            assert len(text.split(".")[-1]) <= 4, (key, text)
    shares = doc["options"]["shares"]
    assert doc["options"]["shares_of"] == "watch set"
    assert shares and all(s["age_seconds"] is not None and not s["stale"] for s in shares)
    market = doc["options"]["whole_market"]
    assert market["rows"][-1]["underlying"] == queries.OTHERS
    assert abs(sum(r["share_pct"] for r in market["rows"]) - 100) < 0.2
