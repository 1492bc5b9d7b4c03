"""How soon a viewer shows what the collector stored (issue 25: "within a second").

Starts `momoscan collect --demo` on a fresh database in a process of its own, then follows it
here as a viewer does (momoscan.viewer.Viewer: the published state every 0.25 s, a read of the
tables whenever the collector's `seq` moved). For each read it takes the newest quote's
`fetched_at` (the collector's wall clock when that batch or streamed tick was stored, give or
take the write itself) and the moment the viewer's read of the screen's snapshot
(queries.snapshot, as the TUI reads it) finished: the difference is the lag from stored to
ready to draw. Drawing adds one frame (about 10-30 ms at 120x40, bench/tui.py).

    .venv/bin/python bench/viewers.py [--seconds 90] [--demo-size 2000]

Prints JSON: reads, lag percentiles in seconds, and the share of reads within 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from momoscan import queries
from momoscan.config import Settings
from momoscan.role import CollectorLock
from momoscan.store import Store
from momoscan.viewer import Viewer


def newest_fetch(store: Store) -> float:
    row = store.conn.execute("SELECT max(fetched_at) FROM quotes").fetchone()
    return float(row[0] or 0.0)


def read_screen(store: Store, settings: Settings, market_now: float) -> float:
    """The TUI's read of the main screen; returns the newest stored quote's stamp seen."""
    with store.snapshot():
        newest = newest_fetch(store)
    queries.snapshot(
        store,
        settings.universe.cap_tiers,
        settings.universe.min_price,
        market_now=market_now,
        limit=40,
    )
    return newest


async def follow(db: Path, seconds: float) -> list[float]:
    settings = Settings()
    lock = CollectorLock(db)
    viewer = Viewer(db, lock)
    await viewer.start()
    lags: list[float] = []
    last_seen = 0.0
    wanted = anyio.Event()

    def on_data() -> None:
        wanted.set()

    async def reader() -> None:
        nonlocal last_seen, wanted
        while True:
            await wanted.wait()
            wanted = anyio.Event()
            market = viewer.clock.now().timestamp()
            newest = await viewer.store.call(read_screen, settings, market)
            done = time.time()
            if newest > last_seen:
                lags.append(done - newest)
                last_seen = newest

    try:
        with anyio.move_on_after(seconds):
            async with anyio.create_task_group() as tg:
                tg.start_soon(reader)
                await viewer.follow(lambda _s: None, on_data)
                tg.cancel_scope.cancel()
    finally:
        lock.release()
        await viewer.close()
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--demo-size", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        env = {**os.environ, "XDG_STATE_HOME": tmp, "XDG_DATA_HOME": tmp}
        command = ["collect", "--demo", "--db", str(db), "--demo-size", str(args.demo_size)]
        child = subprocess.Popen(
            [sys.executable, "-m", "momoscan", *command, "--interval", str(args.interval)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            while not db.exists():
                time.sleep(0.2)
            time.sleep(1.0)
            lags = anyio.run(follow, db, args.seconds)
        finally:
            child.terminate()
            child.wait(timeout=30)
    lags.sort()
    q = statistics.quantiles(lags, n=20) if len(lags) >= 2 else lags * 19

    print(
        json.dumps(
            {
                "bench": "viewers",
                "demo_size": args.demo_size,
                "seconds": args.seconds,
                "reads_with_new_data": len(lags),
                "lag_p50_s": round(statistics.median(lags), 3) if lags else None,
                "lag_p95_s": round(q[18], 3) if lags else None,
                "lag_max_s": round(lags[-1], 3) if lags else None,
                "within_1s": round(sum(1 for x in lags if x <= 1.0) / len(lags), 3)
                if lags
                else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
