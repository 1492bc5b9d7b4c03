from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from momoscan import queries
from momoscan.models import Quote, SymbolError, Ticker, UnderlyingVolume
from momoscan.rvol import volume_share_by
from momoscan.store import HISTORY_BUCKET_EXTENDED, SCHEMA_VERSION, Store, StoreError

TICKERS = [
    Ticker("AAA", "Alpha Inc", "NASDAQ", "XNGS", "small"),
    Ticker("BBB", "Beta Corp", "NYSE", "XNYS", "mid"),
    Ticker("CCC", "Gamma Ltd", "NYSE", "XNYS", "mega"),
    Ticker("PNY", "Penny Co", "NASDAQ", "XNCM", "small"),
]


def quote(symbol: str, price: float, change: float, volume: int, ts: int = 1_795_190_400) -> Quote:
    return Quote(
        symbol,
        price,
        change_pct=change,
        volume=volume,
        avg_volume=volume // 2,
        market_open=True,
        quote_ts=ts,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "m.db")
    s.replace_universe(TICKERS, source="test", as_of=date(2026, 11, 20), fetched_at=1000.0)
    return s


def test_new_database_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.db.journal_mode == "wal"
        assert {
            "tickers",
            "quotes",
            "quote_history",
            "option_underlyings",
            "option_contracts",
            "option_leaders",
            "refresh_runs",
            "meta",
            "symbol_errors",
        } <= set(s.db.table_names())
    # Opening again is a no-op migration.
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with Store(path) as s:
        s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer momoscan"):
        Store(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable momoscan database"):
        Store(path)


def test_movers_and_volume_respect_tiers_and_price_floor(store: Store) -> None:
    store.store_quotes(
        [
            quote("AAA", 5.0, 12.0, 1000),
            quote("BBB", 50.0, 3.0, 90_000),
            quote("CCC", 500.0, 20.0, 5_000_000),
            quote("PNY", 0.5, 80.0, 9_000_000),
        ],
        fetched_at=2000.0,
    )
    movers = queries.top_movers(store, ["small", "mid", "large"], 1.0)
    assert [r.symbol for r in movers] == ["AAA", "BBB"]  # CCC is mega, PNY under $1
    # Twice the average day's volume by 11:00 ET: 2x the whole day's, and against the usual
    # volume by 11:00 (the curve's share of a day, rvol.py) far more.
    assert movers[0].rvol_day == pytest.approx(2.0)
    assert movers[0].rvol == pytest.approx(2.0 / volume_share_by(90))
    volume = queries.top_volume(store, ["small", "mid", "large", "mega"], 1.0)
    assert [r.symbol for r in volume] == ["CCC", "BBB", "AAA"]
    # Lower the floor and the penny stock leads the movers.
    assert queries.top_movers(store, ["small", "mid"], 0.0)[0].symbol == "PNY"


def test_a_failed_batch_leaves_no_partial_rows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.store_quotes([quote("AAA", 5.0, 1.0, 10)], fetched_at=1.0)
    good = [quote("AAA", 6.0, 2.0, 20), quote("BBB", 7.0, 3.0, 30)]
    real_executemany = store.conn.executemany
    calls = {"n": 0}

    class Boom(sqlite3.OperationalError):
        pass

    def flaky(sql: str, rows: object) -> object:
        calls["n"] += 1
        if "quote_history" in sql:
            raise Boom("disk I/O error")
        return real_executemany(sql, rows)  # type: ignore[arg-type]

    real = store.conn
    wrapper = type(
        "Conn",
        (),
        {
            "executemany": staticmethod(flaky),
            "execute": real.execute,
            "in_transaction": property(lambda _self: real.in_transaction),
        },
    )()
    monkeypatch.setattr(store, "conn", wrapper)
    with pytest.raises(Boom):
        store.store_quotes(good, fetched_at=2.0)
    monkeypatch.undo()
    rows = store.rows("SELECT symbol, price FROM quotes ORDER BY symbol")
    assert rows == [{"symbol": "AAA", "price": 5.0}]


def test_symbol_errors_are_counted_and_cleared(store: Store) -> None:
    store.store_quotes([], [SymbolError("BBB", 400, "not found")], fetched_at=1.0)
    store.store_quotes([], [SymbolError("BBB", 400, "not found")], fetched_at=2.0)
    assert store.rows("SELECT count FROM symbol_errors WHERE symbol='BBB'") == [{"count": 2}]
    store.store_quotes([quote("BBB", 7.0, 1.0, 1)], fetched_at=3.0)
    assert store.rows("SELECT * FROM symbol_errors") == []


def test_history_is_bucketed(store: Store) -> None:
    base = 1_795_190_400 - 1_795_190_400 % 300
    for offset, price in ((0, 1.0), (60, 2.0), (299, 3.0), (300, 4.0)):
        store.store_quotes([quote("AAA", price, 0.0, 1, ts=base + offset)], fetched_at=1.0)
    rows = store.rows("SELECT ts, price FROM quote_history WHERE symbol='AAA' ORDER BY ts")
    assert rows == [{"ts": base, "price": 3.0}, {"ts": base + 300, "price": 4.0}]
    # Outside the session, buckets are wider.
    late = base + 10 * 3600
    for offset, price in ((0, 5.0), (HISTORY_BUCKET_EXTENDED - 1, 6.0)):
        q = quote("BBB", price, 0.0, 1, ts=late - late % HISTORY_BUCKET_EXTENDED + offset)
        store.store_quotes(
            [Quote(q.symbol, q.price, market_open=False, quote_ts=q.quote_ts)], fetched_at=1.0
        )
    assert store.rows("SELECT price FROM quote_history WHERE symbol='BBB'") == [{"price": 6.0}]


def test_replace_universe_drops_quotes_of_removed_symbols(store: Store) -> None:
    store.store_quotes([quote("AAA", 5.0, 1.0, 1), quote("BBB", 6.0, 1.0, 1)], fetched_at=1.0)
    store.replace_universe(TICKERS[:1], source="test", as_of=date(2026, 11, 21), fetched_at=2.0)
    assert [r["symbol"] for r in store.rows("SELECT symbol FROM quotes")] == ["AAA"]
    info = queries.universe_info(store)
    assert (info.source, info.size, info.as_of) == ("test", 1, date(2026, 11, 21))


def test_option_day_replaces_the_whole_day(store: Store) -> None:
    d = date(2026, 11, 19)
    store.store_option_day(
        d,
        "occ",
        [UnderlyingVolume(d, "AAA", 10, 6, 4, "occ"), UnderlyingVolume(d, "BBB", 5, 1, 4, "occ")],
    )
    store.store_option_day(d, "occ", [UnderlyingVolume(d, "AAA", 12, 6, 6, "occ")])
    assert store.daily_volumes([d]) == {d: {"AAA": (12, 6, 6)}}
    assert store.option_days("occ") == [d]


def test_runs_are_logged(store: Store) -> None:
    run = store.start_run("cycle", "demo", at=10.0)
    store.store_quotes(
        [quote("AAA", 5.0, 1.0, 1)],
        [SymbolError("BBB", None, "x")],
        fetched_at=11.0,
        run_id=run,
        credits_used=2,
    )
    store.finish_run(run, "partial", "1 failed", symbols=2, at=12.0)
    last, good = queries.last_runs(store)
    assert last == good
    assert last is not None
    assert (last.status, last.quotes, last.errors, last.credits_used, last.message) == (
        "partial",
        1,
        1,
        2,
        "1 failed",
    )


def test_a_reader_sees_only_committed_state(store: Store, tmp_path: Path) -> None:
    reader = Store(store.path)
    store.conn.execute("BEGIN IMMEDIATE")
    store.conn.execute("INSERT INTO quotes (symbol, price, fetched_at) VALUES ('AAA', 1.0, 1.0)")
    assert reader.rows("SELECT COUNT(*) AS n FROM quotes") == [{"n": 0}]
    store.conn.execute("ROLLBACK")
    reader.close()


# -- runs left 'running' by a process that is gone (issue 24, item 7) ---------------------------


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_runs_of_gone_processes_are_closed_as_abandoned_at_the_next_start(store: Store) -> None:
    import subprocess
    import sys

    from momoscan.store import RunOwner

    me = RunOwner.this_process()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owners = {
            "killed": RunOwner(me.host, _dead_pid(), "a"),
            "other process, alive": RunOwner(me.host, alive.pid, "b"),
            "other host": RunOwner("elsewhere", _dead_pid(), "c"),
            # A container restarted: the same pid 1 and host, another process.
            "my pid, earlier process": RunOwner(me.host, me.pid, "not-mine"),
            "mine": me,
        }
        ids = {
            name: store.start_run("cycle", "demo", at=100.0, owner=owner)
            for name, owner in owners.items()
        }
        # One from before owners were recorded, a day old, and a recent one.
        store.conn.execute(
            "INSERT INTO refresh_runs (kind, mode, started_at, status) VALUES "
            "('cycle', 'demo', 1.0, 'running'), ('cycle', 'demo', 90000.0, 'running')"
        )
        old, recent = (
            r["id"] for r in store.rows("SELECT id FROM refresh_runs WHERE host IS NULL")
        )
        new = store.start_run("cycle", "demo", at=90_000.0)
        rows = {r["id"]: r for r in store.rows("SELECT * FROM refresh_runs")}
    finally:
        alive.kill()
        alive.wait()
    closed = {name for name, i in ids.items() if rows[i]["status"] == "abandoned"}
    assert closed == {"killed", "my pid, earlier process"}
    assert rows[old]["status"] == "abandoned" and rows[recent]["status"] == "running"
    assert rows[new]["status"] == "running"
    assert (rows[new]["host"], rows[new]["pid"], rows[new]["token"]) == (me.host, me.pid, me.token)
    killed = rows[ids["killed"]]
    assert killed["finished_at"] == 100.0  # closed by the very next start, at its time
    assert killed["message"].startswith(f"abandoned: its process (pid {owners['killed'].pid} on")
    # The one still alive is closed once it is gone too.
    assert store.close_abandoned_runs(at=90_001.0) == [ids["other process, alive"]]


def test_a_future_credit_stamp_is_clamped_to_now(store: Store) -> None:
    store.store_movers([], fetched_at=1.0, credits_used=5, credits_at=1_000.0)
    store.store_movers([], fetched_at=1.0, credits_used=7, credits_at=5_000.0)  # clock set back
    assert store.credit_entries(900.0) == [(1_000.0, 5), (5_000.0, 7)]
    assert store.credit_entries(900.0, now=1_200.0) == [(1_000.0, 5), (1_200.0, 7)]
    # Written back: a later start sees it age from the clamp, not from the future.
    assert store.credit_entries(900.0) == [(1_000.0, 5), (1_200.0, 7)]


def test_a_failed_commit_leaves_no_transaction_open(store: Store) -> None:
    """A full disk fails COMMIT; the next write must not find the transaction still open."""
    store.conn.execute("PRAGMA max_page_count = 1")  # no page more: SQLite's own 'disk full'
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [quote(f"S{i:04d}", 1.0, 0.0, 1) for i in range(2000)]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.store_quotes(big, fetched_at=5.0)
    assert not store.conn.in_transaction
    store.conn.execute(f"PRAGMA max_page_count = {pages * 100}")  # space again
    store.store_quotes(big, fetched_at=6.0)
    assert store.rows("SELECT count(*) AS n FROM quotes")[0]["n"] == 2000


def test_processes_opening_one_new_database_at_once_all_get_it(tmp_path: Path) -> None:
    """Serve's tabs or a cron run starting beside the app on a file that does not exist yet:
    each migrates it or finds it migrated, none fails ('table meta already exists', or
    'locked' from the switch to WAL)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        for k in range(10):  # a race: several new files, 8 openers each
            path = tmp_path / f"new{k}.db"
            versions = pool.map(_open_and_read_version, [str(path)] * 8)
            assert versions == [SCHEMA_VERSION] * 8


def _open_and_read_version(path: str) -> int:
    with Store(path) as store:
        return store.schema_version()
