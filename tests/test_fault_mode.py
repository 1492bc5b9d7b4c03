"""Twenty refresh cycles with every fault the real providers serve, at once.

No cycle may fail; every good item is stored; every failure is counted and shown; the database
stays intact. The simulated market runs in this process (deterministic), its clock a minute on
per cycle, its trickles short and the timeouts shorter, so the whole run takes seconds.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.cli import main
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.transport import SimulatedMarketTransport
from momoscan.sources.ratelimit import CreditBudget
from momoscan.sources.twelvedata import TwelveDataClient

START = datetime(2026, 11, 20, 10, 30, tzinfo=mh.ET)
#: Every fault at its default rate; trickles of 0.3 s pauses for 3 s, against 1 s timeouts.
SPEC = "all,trickle_delay=0.3,trickle_seconds=3"


class FakeTime:
    """A wall clock for the credit budget that moves when the budget waits: a 429 burst whose
    headers say no credits are left makes it wait for the next window, in no real time."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await anyio.sleep(0)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """No backoff sleeps, no wait for the next minute after a 429, credit windows that pass
    at once: the market clock is fixed, and only the faults' own time (trickles) is real."""
    monkeypatch.setattr("momoscan.sources.http.backoff_delay", lambda *a, **k: 0.0)

    async def next_minute(self: TwelveDataClient) -> None:
        return None

    monkeypatch.setattr(TwelveDataClient, "_wait_next_minute", next_minute)
    fake = FakeTime()

    def budget(limit: int, **_wall: object) -> CreditBudget:
        return CreditBudget(limit, clock=fake, sleep=fake.sleep)

    monkeypatch.setattr("momoscan.runtime.CreditBudget", budget)


def fault_settings() -> Settings:
    settings = Settings()
    settings.demo.size = 700
    settings.demo.faults = SPEC
    settings.demo.plan_limit = 1_000_000
    settings.twelvedata.timeout = 1.0
    settings.twelvedata.batch_size = 60
    settings.cboe.timeout = 1.0
    settings.occ.timeout = 1.0
    settings.occ.requests_per_minute = 10_000
    settings.cboe.requests_per_minute = 10_000
    settings.options.watch_size = 12
    return settings


@pytest.mark.anyio
async def test_twenty_cycles_under_every_fault(tmp_path: Path, quick: None) -> None:
    db = tmp_path / "demo.db"
    clock = FixedClock(START)
    settings = fault_settings()
    options = RunOptions(
        db=str(db),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
    )
    reports = []
    async with open_runtime(settings, options) as rt:
        assert rt.faults is not None and rt.faults.active
        rt.engine.clock = clock
        assert isinstance(rt.transport, SimulatedMarketTransport)
        rt.transport.market.clock = clock
        for cycle in range(20):
            report = await rt.engine.refresh(full=cycle == 0)
            reports.append(report)
            with sqlite3.connect(db) as conn:
                run = conn.execute(
                    "SELECT status, quotes, errors, message FROM refresh_runs WHERE id = ?",
                    (report.run_id,),
                ).fetchone()
            # Every good quote was stored, and the run's record says what the report says.
            assert run[:2] == (report.status, report.quotes), cycle
            assert run[3] == report.summary()
            clock.advance(60)
        injected = Counter(await rt.transport.injected())

    statuses = Counter(r.status for r in reports)
    assert statuses["failed"] == 0, [r.lines() for r in reports if r.failed]
    assert statuses["partial"] > 0  # the faults did land
    # Every fault kind was served at least once over the run.
    served = {kind.split("_")[0] for kind in injected}
    # SEC's and FINRA's too when their requests draw one (keyless sources beside the cycle).
    keyless = {"sec", "facts", "finra"}
    assert {"td", "cboe", "occ"} <= served <= {"td", "cboe", "occ", *keyless}, injected
    failures = [f for r in reports for f in r.failures]
    # Each failure is counted and shown: in the errors, in what the user reads, in words.
    for report in reports:
        assert report.errors >= len(report.failures)
        shown = " ".join(report.lines())
        for source in {f.source for f in report.failures}:
            assert source in shown
    for failure in failures:
        assert failure.message and "Traceback" not in failure.message
        assert "Error" not in failure.message and "ExceptionGroup" not in failure.message
    assert {f.source for f in failures} >= {"Twelve Data", "Cboe", "OCC"}

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored_days = conn.execute(
            "SELECT COUNT(DISTINCT day) FROM option_underlyings WHERE source = 'occ'"
        ).fetchone()[0]
        quoted = conn.execute("SELECT COUNT(*) FROM quotes").fetchone()[0]
        universe = conn.execute("SELECT COUNT(*) FROM tickers").fetchone()[0]
    # Every OCC day was stored but those still down at the end (a maintenance page stays up
    # for its report day) and those OCC claimed had no records (asked again in an hour).
    still_down = {f.item for f in reports[-1].failures if f.source == "OCC"}
    wanted = settings.options.lookback_days + 1
    assert stored_days >= wanted - len(still_down) - injected["occ_no_record"]
    assert quoted >= universe - universe // 20
    # The halted stocks' old quotes are stored with their age, and never ranked.
    from momoscan.store import Store

    with Store(db) as store:
        snap = queries.snapshot(
            store, settings.universe.cap_tiers, 1.0, market_now=clock.now().timestamp()
        )
    assert injected["td_stale"] > 0 and snap.stale > 0
    assert all(r.current for r in snap.movers + snap.volume)
    assert len(snap.movers) == 10 and len(snap.volume) == 10


def test_headless_once_under_every_fault_delivers_everything(
    tmp_path: Path, quick: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's 'done when': --headless --once --json exits 0 with ten movers, ten volume
    leaders, options shares and the daily leaders, and stderr names what failed."""
    import json

    config = tmp_path / "config.toml"
    config.write_text(
        "[demo]\nsize = 700\nplan_limit = 1000000\n"
        "[twelvedata]\ntimeout = 1.0\n[cboe]\ntimeout = 1.0\n[occ]\ntimeout = 1.0\n"
    )
    code = main(
        [
            "--config", str(config), "--db", str(tmp_path / "d.db"), "--once", "--json",
            "--demo-faults", SPEC,
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0, err
    assert doc["refresh"]["status"] in ("ok", "partial")
    assert len(doc["top_movers"]) == 10 and len(doc["top_volume"]) == 10
    assert doc["options"]["shares"] and doc["options"]["leaders"]["rows"]
    assert "Fault mode: all faults" in err
    for failure in doc["refresh"]["failures"]:
        assert f"momoscan: {failure['source']} ({failure['item']}): " in err
    assert "Traceback" not in err and "ExceptionGroup" not in err


def test_a_bad_fault_spec_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[demo]\nfaults = "td_5xx=2"\n')
    assert main(["--config", str(config), "--once"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"momoscan: config error: {config}:2: [demo] faults: ")
    assert len(err.splitlines()) == 1
