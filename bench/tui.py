"""Benchmarks of the terminal UI (issue 3): time from process start to the first filled table,
event-loop lag while a big refresh runs, and resident memory after an hour of simulated session.

Each runs the real app headless (Textual's own headless driver), in a fresh process, on the
simulated market.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, timeout: float = 900) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        # (A run that exits 0 without its result line says so too, with what it printed.)
        raise RuntimeError(
            f"bench subprocess failed (exit {result.returncode}):\n"
            f"stdout: {result.stdout[-1500:]}\nstderr: {result.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


STARTUP = """
import time
T0 = {t0!r}
import json, sys
from momoscan.config import Settings
from momoscan.runtime import RunOptions
from momoscan.tui.app import MomoscanApp

class Timed(MomoscanApp):
    SPARKLINES = {sparks!r}
    filled_at = None
    def show_snapshot(self, snap):
        super().show_snapshot(snap)
        if self.filled_at is None and len(snap.movers) >= 10:
            self.filled_at = time.time()
            self.exit()

app = Timed(Settings(), RunOptions(db={db!r}, demo_latency=0.03))
app.run(headless=True, size=(150, 45))
print(json.dumps({{"seconds": app.filled_at - T0}}))
"""


def startup_runs(runs: int = 5, sparks: bool = True) -> dict[str, list[float]]:
    """Process start to the first filled movers table, each run's: with no database yet (the
    first run a new user sees) and with the previous session's database (every later start).
    `sparks`: the tables' sparklines read and drawn (the app's default), or not (control)."""
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "demo.db")
            cold.append(_run(STARTUP.format(t0=time.time(), db=db, sparks=sparks))["seconds"])
            warm.append(_run(STARTUP.format(t0=time.time(), db=db, sparks=sparks))["seconds"])
    return {"cold": cold, "warm": warm}


def bench_startup(runs: int = 5) -> dict[str, float]:
    """The medians of `startup_runs`."""
    r = startup_runs(runs)
    return {"cold_s": statistics.median(r["cold"]), "warm_s": statistics.median(r["warm"])}


LAG = """
import asyncio, json, time
from datetime import datetime
from textual import events
from momoscan import market_hours as mh
from momoscan.config import Settings
from momoscan.runtime import RunOptions
from momoscan.tui.app import MomoscanApp
from bench import host  # (the script runs from the checkout's root)

settings = Settings()
settings.universe.cap_tiers = ["nano", "micro", "small", "mid", "large", "mega"]
settings.scan.watchlist = ["SPX"]  # its chain: ~30,000 contracts, 13 MB
settings.scan.refresh_interval = 3600
settings.demo.plan_limit = 10**9
settings.cboe.requests_per_minute = 10**6
settings.occ.requests_per_minute = 10**6
start = datetime(2026, 11, 19, 14, 0, tzinfo=mh.ET)
options = RunOptions(db={db!r}, demo_size=8000, demo_start=start, demo_latency=0.0)

class App(MomoscanApp):
    SPARKLINES = {sparks!r}

def cpu_ticks():
    return host.cpu_ticks() or (0, 0)

def steal():
    return cpu_ticks()[0]

async def main():
    app = App(settings, options)
    lags, stolen, keys, pressed = [], [], [], []
    async with app.run_test(size=(150, 45)) as pilot:
        original = app.cycle_tiers
        def cycle_tiers():
            pressed.append(time.perf_counter())
            original()
        app.cycle_tiers = cycle_tiers
        rounds = 1
        if {warm}:
            while app.refreshes < 1:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            app._refresh_now.set()
            rounds = 4  # later refreshes are short: take several for enough samples
        target = app.refreshes + rounds
        stop = False

        async def ticker():
            while not stop:
                before = steal()
                t = time.perf_counter()
                await asyncio.sleep(0.010)
                lags.append(time.perf_counter() - t - 0.010)
                stolen.append(steal() != before)

        task = asyncio.create_task(ticker())
        ticks = cpu_ticks()
        began = time.perf_counter()
        # Keys while the refresh runs: the time from the key event to its action.
        while app.refreshes < target:
            sent = time.perf_counter()
            app._driver.send_message(events.Key("f", "f"))
            while len(pressed) <= len(keys) and time.perf_counter() - sent < 5:
                await asyncio.sleep(0.001)
            keys.append(pressed[-1] - sent)
            await asyncio.sleep(0.25)
            if {warm} and app.refreshes < target and not app._refresh_now.is_set():
                app._refresh_now.set()
        duration = time.perf_counter() - began
        stop = True
        await task
        ticks = [b - a for a, b in zip(ticks, cpu_ticks())]
    clear = sorted(lag for lag, s in zip(lags, stolen) if not s) or [0.0]
    lags.sort()
    keys.sort()
    p99 = lags[int(len(lags) * 0.99) - 1]
    print(json.dumps({{"p99_ms": p99 * 1000, "max_ms": lags[-1] * 1000, "samples": len(lags),
                      "refresh_s": duration, "key_p50_ms": keys[len(keys) // 2] * 1000,
                      "key_max_ms": keys[-1] * 1000,
                      "steal_pct": 100 * ticks[0] / max(ticks[1], 1),
                      "clear_p99_ms": clear[max(int(len(clear) * 0.99) - 1, 0)] * 1000,
                      "clear_max_ms": clear[-1] * 1000,
                      "clear_pct": 100 * (len(stolen) - sum(stolen)) / max(len(stolen), 1)}}))

asyncio.run(main())
"""


def bench_lag(warm: bool = False, sparks: bool = True) -> dict[str, float]:
    """Lateness of a 10 ms ticker on the app's event loop while a refresh of 8,000 symbols
    (rate limits lifted) and a watch set including SPX's ~30,000-contract chain runs, and the
    time from a key press to its action meanwhile. Cold: the first refresh, which also
    backfills 21 OCC day files; warm: a later one. `sparks`: the tables' sparklines read and
    drawn with every read of the store (the app's default), or not (control)."""
    with tempfile.TemporaryDirectory() as tmp:
        return _run(LAG.format(db=str(Path(tmp) / "lag.db"), warm=warm, sparks=sparks))


MEMORY = """
import json, os, time
from pathlib import Path
from momoscan.config import Settings
from momoscan.runtime import RunOptions
from momoscan.tui.app import MomoscanApp

SPEED = {speed!r}
MINUTES = 60
settings = Settings()
settings.scan.watchlist = {watchlist!r}
# Every limit the bench does not measure, lifted: the plan's credits, Cboe's and OCC's
# politeness caps; the refresh interval too, for the bench starts each refresh itself.
settings.scan.refresh_interval = 3600
settings.demo.plan_limit = 10**9
settings.cboe.requests_per_minute = 10**6
settings.occ.requests_per_minute = 10**6
options = RunOptions(db={db!r}, demo_speed=SPEED, demo_size={size}, demo_latency=0.0)


def status(pid):
    out = {{}}
    for line in Path(f"/proc/{{pid}}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def children():
    pids = []
    for task in Path("/proc/self/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def label(pid, market):
    if pid in market:
        return "market"
    command = Path(f"/proc/{{pid}}/cmdline").read_bytes()
    return "resource tracker" if b"resource_tracker" in command else "parse worker"


class Hour(MomoscanApp):
    ticks = 0
    started = None
    ended = None
    sidecars = None

    def start(self):
        super().start()
        # One refresh a simulated minute, started here: at SPEED, a minute is 60 / SPEED s.
        self.set_interval(60.0 / SPEED, self.minute)

    def minute(self):
        if self.runtime is None:
            return
        if self.started is None:
            self.started = self.runtime.clock.now()
        self.ticks += 1
        if self.ended is not None:
            return
        # The first refresh starts by itself at minute 0; the bench starts one a minute after.
        if self.refreshes >= MINUTES or self.ticks > 3 * MINUTES:
            self.ended = self.runtime.clock.now()
            market = set(getattr(self.runtime.transport, "_pool")._processes)
            self.sidecars = {{label(pid, market): status(pid) for pid in children()}}
            self.exit()
        else:
            self._refresh_now.set()  # at once, or as soon as a late refresh ends


app = Hour(settings, options)
app.run(headless=True, size=(150, 45))
me = status(os.getpid())
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a process started by
# a bigger one reads its parent's peak (bench/run.py's own, about 300 MB after the growth bench).
peak = me["VmHWM"]
minutes = (app.ended - app.started).total_seconds() / 60 if app.ended else 0.0
print(json.dumps({{"rss_mb": me["VmRSS"], "peak_mb": peak, "refreshes": app.refreshes,
                  "minutes": minutes, "workers": app.sidecars or {{}}}}))
"""


def bench_memory(
    size: int = 0, watchlist: list[str] | None = None, speed: float | None = None
) -> dict[str, Any]:
    """Resident memory of the app's process after an hour of simulated session, one refresh a
    simulated minute (60 in all), every limit the bench does not measure lifted (the plan's
    credits, Cboe's and OCC's request caps; the bench starts each refresh itself). The
    simulated market's own process is not counted (it stands in for the network); it and
    the parse worker are read at the end too (`workers`: VmRSS and VmHWM in MB).

    `speed`: the simulated clock's, so that a refresh fits in a simulated minute (60x, a
    minute a second, for the built-in universe; 15x at 8,000 symbols, where a refresh takes
    longer than a second on a 2-core machine). Returns rss_mb, peak_mb, refreshes, minutes
    (the simulated minutes from the first minute's start to the last refresh) and workers.
    """
    if speed is None:
        speed = 60.0 if size <= 1000 else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        return _run(
            MEMORY.format(
                db=str(Path(tmp) / "mem.db"),
                size=size,
                watchlist=watchlist or [],
                speed=speed,
            ),
            timeout=3600,
        )


if __name__ == "__main__":
    which = set(sys.argv[1:]) or {"startup", "lag", "memory"}
    if "startup" in which:
        print(bench_startup())
    if "lag" in which:
        print(bench_lag())
        print(bench_lag(warm=True))
    if "memory" in which:
        print(bench_memory())
        print(bench_memory(8000))
