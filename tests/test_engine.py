"""The pipeline end to end: simulated market -> clients -> engine -> SQLite -> queries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.cli import main
from momoscan.config import Settings
from momoscan.models import Progress
from momoscan.runtime import RunOptions, open_runtime
from momoscan.store import Store

DAY = date(2026, 11, 20)
START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


def options(db: Path, **kwargs: object) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.anyio
async def test_demo_refresh_fills_every_table(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seen: list[Progress] = []
    settings = Settings()
    async with open_runtime(settings, options(db)) as rt:
        assert rt.mode.demo and "no Twelve Data API key" in rt.mode.reason
        report = await rt.engine.refresh(seen.append)
    assert report.status == "ok", report.lines()
    assert report.quotes == report.symbols > 400
    assert report.credits_used == report.symbols
    assert report.occ_days == settings.options.lookback_days + 1
    assert report.chains >= 10
    steps = [p.step for p in seen]
    assert (
        steps[0] == "universe" and steps[-1] == "done" and "quotes" in steps and "options" in steps
    )
    with Store(db) as store:
        snap = queries.snapshot(store, settings.universe.cap_tiers, settings.universe.min_price)
        assert len(snap.movers) == 10 and len(snap.volume) == 10
        assert snap.movers[0].change_pct is not None and snap.movers[0].change_pct > 5
        assert all(r.cap_tier in {"small", "mid", "large"} and r.price >= 1 for r in snap.movers)
        assert snap.shares and abs(sum(s.share for s in snap.shares) - 1) < 1e-9
        assert snap.leaders_day == mh.previous_trading_day(DAY)
        assert len(snap.leaders) == 10
        history = queries.leaders_history(store, 20)
        assert len(history) == 20
        assert snap.universe.size == report.symbols and snap.universe.source == "demo"
        top = snap.shares[0].underlying
        contracts = queries.contracts(store, snap.options_day, top)  # type: ignore[arg-type]
        assert contracts and contracts[0].volume >= contracts[-1].volume
        runs = store.rows("SELECT status, quotes FROM refresh_runs")
        assert runs == [{"status": "ok", "quotes": report.quotes}]


@pytest.mark.anyio
async def test_second_cycle_reuses_universe_and_occ_history(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    async with open_runtime(Settings(), options(db)) as rt:
        first = await rt.engine.refresh()
        requests_after_first = rt.transport.requests  # type: ignore[attr-defined]
        second = await rt.engine.refresh()
        assert second.status == "ok" and second.occ_days == 0
        per_cycle = rt.transport.requests - requests_after_first  # type: ignore[attr-defined]
    # The second cycle asks for quotes and chains only: no OCC day file again.
    assert per_cycle < first.occ_days + per_cycle


@pytest.mark.anyio
async def test_bad_key_fails_the_refresh_and_keeps_the_last_good_data(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    async with open_runtime(Settings(), options(db)) as rt:
        good = await rt.engine.refresh()
        assert good.status == "ok"

        # The next answers reject the key, as Twelve Data does for a revoked one.
        def reject(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                401, json={"code": 401, "message": "**apikey** is wrong", "status": "error"}
            )

        rt.engine.quotes._http._transport = httpx.MockTransport(reject)
        rt.engine.plan_limit_known = False
        bad = await rt.engine.refresh()
    assert bad.status == "failed"
    assert any("TWELVEDATA_API_KEY" in m for m in bad.lines())
    with Store(db) as store:
        snap = queries.snapshot(store, ["small", "mid", "large"], 1.0)
        assert len(snap.movers) == 10  # still there
        assert snap.last_run is not None and snap.last_run.status == "failed"
        assert snap.last_good_run is not None and snap.last_good_run.status == "ok"


@pytest.mark.anyio
async def test_per_symbol_errors_are_counted_and_the_rest_kept(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    settings = Settings()
    settings.universe.source = "file"
    listing = tmp_path / "mine.txt"
    listing.write_text("AAPL\nZZZQ\nMSFT, AMD\n")
    async with open_runtime(settings, options(db)) as rt:
        # Demo mode uses the simulated universe; swap in the user's file to get a bad symbol in.
        from momoscan.sources.universe import FileUniverse

        rt.engine.universe = FileUniverse(listing)
        report = await rt.engine.refresh()
    assert report.status == "partial"
    assert (report.quotes, report.errors) >= (3, 1)
    with Store(db) as store:
        assert store.rows("SELECT symbol FROM symbol_errors") == [{"symbol": "ZZZQ"}]
        assert {r["symbol"] for r in store.rows("SELECT symbol FROM quotes")} == {
            "AAPL",
            "MSFT",
            "AMD",
        }


def test_headless_once_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--headless", "--once", "--json", "--db", str(tmp_path / "x.db"), "--demo-size", "300"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["mode"] == "demo" and doc["simulated"] is True
    assert len(doc["top_movers"]) == 10 and len(doc["top_volume"]) == 10
    changes = [r["change_pct"] for r in doc["top_movers"]]
    assert changes == sorted(changes, reverse=True)
    volumes = [r["volume"] for r in doc["top_volume"]]
    assert volumes == sorted(volumes, reverse=True)
    assert doc["universe"]["source"] == "demo"
    assert doc["refresh"]["status"] == "ok"
    assert len(doc["options"]["leaders"]["rows"]) == 10
    assert len(doc["options"]["leaders_history"]) == 20
    assert "simulated market" in captured.err


def test_headless_once_tables_are_labelled_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--headless", "--once", "--db", str(tmp_path / "x.db"), "--demo-size", "200"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Top gainers" in out and "Top losers" in out and "Top volume" in out
    assert "DEMO (simulated market)" in out
    assert "Options volume · share of the watch set" in out and "Daily options top 10" in out


def test_demo_and_live_never_share_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "x.db"
    assert main(["--headless", "--once", "--db", str(db), "--demo-size", "50"]) == 0
    monkeypatch.setenv("TWELVEDATA_API_KEY", "k" * 32)
    assert main(["--headless", "--once", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "holds simulated (demo) data" in err and "k" * 32 not in err


def test_headless_path_never_imports_textual(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from momoscan.cli import main\n"
        f"rc = main(['--headless', '--once', '--json', '--db', {str(tmp_path / 'h.db')!r},"
        " '--demo-size', '60'])\n"
        "assert rc == 0, rc\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print('TEXTUAL:', bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    assert "TEXTUAL: []" in result.stdout


def test_killed_mid_refresh_leaves_complete_state(tmp_path: Path) -> None:
    """SIGKILL a running headless loop at several moments: the database always opens, passes
    integrity_check, and the newest run's quote counter matches the rows it wrote (no batch is
    half there)."""
    db = tmp_path / "kill.db"
    env = {**os.environ}
    for delay in (2.5, 3.3, 4.1):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "momoscan",
                "--headless",
                "--interval",
                "1",
                "--db",
                str(db),
                "--demo-size",
                "2000",
                "--demo-speed",
                "60",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        with Store(db) as store:
            assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            runs = store.rows("SELECT * FROM refresh_runs ORDER BY id DESC LIMIT 1")
            if not runs:
                continue
            run = runs[0]
            # The run's counter counts its polled quotes; the stream writes its own between
            # cycles (a cycle that found the minute's credits spent ends early, and the
            # stream goes on).
            written = store.rows(
                "SELECT COUNT(*) AS n FROM quotes WHERE fetched_at >= ? AND source != 'stream'",
                (run["started_at"],),
            )[0]["n"]
            assert written == run["quotes"]
