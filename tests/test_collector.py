"""One collector per database, any number of viewers (role.py, collector.py, viewer.py,
attach.py): the lock, the published state, requests, takeover, and the commands on top."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan.attach import attach
from momoscan.cli import main
from momoscan.collector import Collector
from momoscan.config import Settings
from momoscan.role import CollectorLock, CollectorState, continued_start, read_state
from momoscan.runtime import RunOptions, demo_clock
from momoscan.store import Store
from momoscan.viewer import Viewer

START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


def options(db: Path, **kwargs: object) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        demo_size=120,
        **kwargs,  # type: ignore[arg-type]
    )


def test_one_holder_at_a_time(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    first, second = CollectorLock(db), CollectorLock(db)
    assert first.try_acquire() and first.held
    assert first.try_acquire()  # held already: still ours
    assert not second.try_acquire() and not second.held
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    """A holder killed with SIGKILL (no clean-up at all) leaves no stale lock behind."""
    db = tmp_path / "x.db"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from momoscan.role import CollectorLock\n"
        f"lock = CollectorLock(Path({str(db)!r}))\n"
        "assert lock.try_acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        lock = CollectorLock(db)
        assert not lock.try_acquire()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert lock.try_acquire()
        lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_state_round_trip_and_clock() -> None:
    state = CollectorState(
        pid=7, mode="demo", clock_wall=1000.0, clock_market=START.timestamp(), clock_speed=2.0
    )
    again = CollectorState.from_json(state.to_json())
    assert again == state
    assert again is not None and again.market_now(1010.0) == datetime.fromtimestamp(
        START.timestamp() + 20, mh.ET
    )
    # A state from a newer momoscan with fields this one does not know still reads.
    assert CollectorState.from_json('{"pid": 3, "unknown": 1}') == CollectorState(pid=3)
    assert CollectorState.from_json("not json") is None


def test_a_takeover_goes_on_from_the_demo_clock() -> None:
    state = CollectorState(
        mode="demo",
        heartbeat=1000.0,
        clock_wall=1000.0,
        clock_market=START.timestamp(),
        clock_speed=3.0,
    )
    resumed = continued_start(state, 1004.0)
    assert resumed == datetime.fromtimestamp(START.timestamp() + 12, mh.ET)
    # Long gone (or live): a fresh start.
    assert continued_start(state, 1000.0 + 3600) is None
    assert continued_start(CollectorState(mode="live", heartbeat=1000.0), 1001.0) is None
    clock = demo_clock(Settings(), RunOptions(demo_resume=resumed))
    assert abs(clock.now().timestamp() - resumed.timestamp()) < 60 * 3.0


@pytest.mark.anyio
async def test_a_viewer_follows_asks_and_takes_over(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    settings = Settings()
    opts = options(db)
    first_cycle = anyio.Event()
    stop = anyio.Event()
    refreshes: list[int] = []

    async def collect(collector: Collector) -> str:
        await collector.refresh(full=True)
        first_cycle.set()
        while not stop.is_set():
            with anyio.move_on_after(0.05):
                if await collector.wait(10.0):
                    refreshes.append(1)
        return "first"

    async def never(_viewer: Viewer) -> str:
        raise AssertionError("the first process must collect")

    states: list[CollectorState] = []
    data: list[int] = []
    answers: dict[str, object] = {}

    async def view(viewer: Viewer) -> None:
        state = viewer.state
        assert state is not None and state.pid == os.getpid() and state.mode == "demo"
        assert state.command == "first collector" and state.last_cycle_at is not None
        assert state.plan_limit > 0 and state.seq > 0
        assert viewer.clock.now() == START  # the collector's (fixed) clock
        answers["watch"] = await viewer.watch("aapl")
        answers["again"] = await viewer.watch("AAPL")
        with pytest.raises(ValueError, match="not a listing momoscan knows"):
            await viewer.watch("ZZZQX")
        answers["refresh"] = await viewer.ask("refresh")
        stop.set()
        await viewer.follow(states.append, lambda: data.append(1))
        return None

    async def second(collector: Collector) -> str:
        # The viewer holds the role now, and the first's lock is gone.
        assert collector.lock.held
        return "second"

    async with anyio.create_task_group() as tg:
        results: dict[str, str] = {}

        async def run_first() -> None:
            results["first"] = await attach(
                settings, opts, command="first collector", collect=collect, view=never
            )

        tg.start_soon(run_first)
        await first_cycle.wait()
        results["second"] = await attach(
            settings, opts, command="second", collect=second, view=view
        )
    assert results == {"first": "first", "second": "second"}
    assert answers["watch"] == ("AAPL", True) and answers["again"] == ("AAPL", False)
    assert answers["refresh"] == "refreshing" and refreshes
    assert data, "the viewer read the tables when the collector's seq moved"
    assert states  # the state it read; the stop itself may land after its last read
    with Store(db) as store:
        assert "AAPL" in store.watchlist()
        state = read_state(store)
        assert state is not None and state.command == "second" and state.stopped_at


def _wait_for_state(db: Path, child: subprocess.Popen[str]) -> CollectorState:
    """Wait until the child collector has published a finished cycle (or died)."""
    while True:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        if db.exists():
            with Store(db) as store:
                state = read_state(store)
            if state is not None and state.last_cycle_at is not None:
                return state
        time.sleep(0.2)


def test_once_beside_a_collector_spends_nothing_and_takes_over_once_it_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    command = ["collect", "--demo", "--db", str(db), "--demo-size", "80", "--interval", "600"]
    child = subprocess.Popen(
        [sys.executable, "-m", "momoscan", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = _wait_for_state(db, child)
        assert state.command == "momoscan collect" and state.pid == child.pid
        with Store(db) as store:
            runs = store.conn.execute("SELECT count(*) FROM refresh_runs").fetchone()[0]
            credits = store.conn.execute("SELECT sum(credits) FROM credit_ledger").fetchone()[0]
        assert main(["--once", "--json", "--db", str(db), "--demo-size", "80"]) == 0
        captured = capsys.readouterr()
        doc = json.loads(captured.out)
        assert doc["collector"]["role"] == "viewer" and doc["collector"]["pid"] == child.pid
        assert "no credits spent" in captured.err and f"pid {child.pid}" in captured.err
        assert len(doc["top_movers"]) == 10
        with Store(db) as store:
            assert store.conn.execute("SELECT count(*) FROM refresh_runs").fetchone()[0] == runs
            spent = store.conn.execute("SELECT sum(credits) FROM credit_ledger").fetchone()[0]
            assert spent == credits
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert main(["--once", "--json", "--db", str(db), "--demo-size", "80"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["collector"]["role"] == "collector" and doc["refresh"]["status"] == "ok"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_once_spends_a_minute_of_credits_unless_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.toml"
    small.write_text("[demo]\nplan_limit = 60\n")
    args = ["--once", "--json", "--db", str(tmp_path / "b.db"), "--demo-size", "150"]
    assert main([*args, "--config", str(small)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)["refresh"]
    assert report["symbols"] > 60 and report["quotes"] < report["symbols"]
    assert report["credits_used"] <= 60
    assert "one minute of credits" in captured.err and "--full" in captured.err
    # --full sweeps them all (on a plan that covers them within a minute: no waiting here).
    large = tmp_path / "large.toml"
    large.write_text("[demo]\nplan_limit = 1000\n")
    full = ["--once", "--json", "--db", str(tmp_path / "f.db"), "--demo-size", "150", "--full"]
    assert main([*full, "--config", str(large)]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["refresh"]["quotes"] == doc["refresh"]["symbols"]
    assert doc["collector"] == {"role": "collector", "full": True}
    assert "one minute of credits" not in captured.err


def test_full_needs_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--headless", "--full"])
    assert exit_info.value.code == 2
    assert "--full needs --once" in capsys.readouterr().err


def test_collect_refuses_once_and_its_help_leaves_it_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["collect", "--once"])
    assert exit_info.value.code == 2
    assert "one cycle: momoscan --once" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["collect", "--help"])
    shown = capsys.readouterr().out
    assert shown.startswith("usage: momoscan collect") and "--interval" in shown
    assert "--once" not in shown.split("Exit codes")[0] and "--exit-code" not in shown


def test_the_viewer_s_day_is_the_collector_s(tmp_path: Path) -> None:
    """A viewer's clock is the collector's published one, not its own."""
    db = tmp_path / "v.db"
    with Store(db) as store:
        store.set_meta(
            "collector",
            CollectorState(
                pid=1,
                mode="demo",
                clock_wall=time.time(),
                clock_market=START.timestamp(),
                clock_speed=0.0,
                heartbeat=time.time(),
            ).to_json(),
        )

    async def run() -> date:
        viewer = Viewer(db, CollectorLock(db))
        await viewer.start()
        try:
            return viewer.clock.now().date()
        finally:
            await viewer.close()

    assert anyio.run(run) == START.date()


def test_a_demo_run_soon_after_another_goes_on_from_its_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --once right after a demo collector stopped goes on from that collector's clock (and
    keeps what it stored) instead of starting the session again at 10:00."""
    db = tmp_path / "d.db"
    args = ["--once", "--json", "--db", str(db), "--demo-size", "60"]
    assert main(args) == 0
    capsys.readouterr()
    # The last collector's clock, as it published it a moment ago: 14:00 on the market.
    afternoon = datetime.combine(START.date(), datetime.min.time(), mh.ET).replace(hour=14)
    with Store(db) as store:
        state = read_state(store)
        assert state is not None and state.stopped_at is not None
        state.clock_market, state.clock_wall = afternoon.timestamp(), time.time()
        state.heartbeat = state.clock_wall
        store.set_meta("collector", state.to_json())
    assert main(args) == 0
    market = datetime.fromisoformat(json.loads(capsys.readouterr().out)["market_time"])
    assert market.astimezone(mh.ET).hour == 14
    # Long ago: the session starts again at its configured time.
    with Store(db) as store:
        state = read_state(store)
        assert state is not None
        state.heartbeat = time.time() - 3600
        store.set_meta("collector", state.to_json())
    assert main(args) == 0
    market = datetime.fromisoformat(json.loads(capsys.readouterr().out)["market_time"])
    assert market.astimezone(mh.ET).hour == 10


def test_once_beside_a_collector_mails_each_alert_once(tmp_path: Path) -> None:
    """The first --once beside a collector reports the day's alerts so far; each later one,
    what fired since the one before (an earlier day's are never news)."""
    from momoscan.headless_run import unreported_alerts

    db = tmp_path / "a.db"
    today, yesterday = START.date(), date(2026, 11, 19)

    def fire(symbol: str, day: date) -> None:
        with Store(db) as store, store.transaction():
            at = datetime.combine(day, START.timetz()).timestamp()
            row = (day.isoformat(), "scanner", "Top movers", symbol, at, f"{symbol} entered")
            store.record_events([(*row, None, None, None, None)])

    fire("OLD", yesterday)
    fire("AAA", today)
    fire("BBB", today)
    assert [e.symbol for e in unreported_alerts(db, today)] == ["AAA", "BBB"]
    assert unreported_alerts(db, today) == []
    fire("CCC", today)
    assert [e.symbol for e in unreported_alerts(db, today)] == ["CCC"]


def test_once_beside_a_failing_collector_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cron --once beside a collector whose last cycle failed says so and exits 1: what it
    prints may be stale."""
    db = tmp_path / "f.db"
    assert main(["--once", "--db", str(db), "--demo-size", "40"]) == 0
    capsys.readouterr()
    lock = CollectorLock(db)
    assert lock.try_acquire()  # another momoscan collects
    try:
        with Store(db) as store:
            state = read_state(store)
            assert state is not None
            state.error, state.stopped_at, state.heartbeat = "Twelve Data: invalid key", None, 0
            store.set_meta("collector", state.to_json())
        assert main(["--once", "--db", str(db), "--demo-size", "40"]) == 1
        err = capsys.readouterr().err
        assert "no credits spent" in err and "last cycle failed: Twelve Data: invalid key" in err
    finally:
        lock.release()
