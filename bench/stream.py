"""Benchmark of the price stream (issue 11): the delay from a price change in the simulated market
to the row on screen, streaming against polling on the same plan, and the event loop and CPU with
500 streamed symbols ticking every second.

    .venv/bin/python bench/stream.py           # a table
    .venv/bin/python bench/stream.py --json    # one JSON object
    .venv/bin/python bench/stream.py --quick   # shorter runs (a smoke test)

The real app runs headless (Textual's test driver) on the simulated market in this process, its
clock at real speed. Streaming: each price event the simulated WebSocket server sends is
stamped with when it was sent; the delay ends when the row on screen shows that price (after the
frame that draws it). Polling (the stream off, the same 1,597-credit plan, the default refresh
interval): a quote's price changes when the simulated minute turns; the delay ends when the row
on screen shows the new minute's price.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from momoscan import market_hours as mh
from momoscan.config import Settings
from momoscan.engine.stream import Tick
from momoscan.runtime import RunOptions
from momoscan.simulated.stream_server import SimStreamServer
from momoscan.simulated.transport import SimulatedMarketTransport
from momoscan.tui.app import MomoscanApp
from momoscan.tui.widgets.scan_table import ScanTable

START = datetime(2026, 11, 19, 11, 0, tzinfo=mh.ET)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Sent:
    """When the simulated stream sent each event, by (symbol, the event's timestamp): the
    moment its price changed (a symbol has one event a second)."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}
        self.count = 0

    def patch(self, server: SimStreamServer) -> None:
        original = server.events

        def events(subscribed: dict[str, int]) -> list[dict[str, Any]]:
            out = original(subscribed)
            now = time.perf_counter()
            for event in out:
                self.at[(event["symbol"], int(event["timestamp"]))] = now
            self.count += len(out)
            return out

        server.events = events  # type: ignore[method-assign]


def _settings() -> Settings:
    """The demo on a running clock at real speed (11:00 ET on a Thursday), the default plan."""
    settings = Settings()
    settings.demo.date = START.date().isoformat()
    settings.demo.start = START.strftime("%H:%M")
    return settings


def _options(db: str, *, stream: bool, size: int = 0) -> RunOptions:
    return RunOptions(
        db=db, demo_speed=1.0, demo_size=size, demo_latency=0.03, demo_in_process=True,
        offload_processes=False, stream=stream,
    )  # fmt: skip


async def _stream_run(seconds: float, db: str) -> dict[str, Any]:
    sent = Sent()
    delays: list[float] = []

    class Timed(MomoscanApp):
        def _on_ticks(self, ticks: Sequence[Tick]) -> None:
            super()._on_ticks(ticks)
            rt = self.runtime
            if rt is not None and isinstance(rt.transport, SimulatedMarketTransport):
                streamer = rt.transport.streamer
                if streamer is not None and not getattr(streamer, "timed", False):
                    sent.patch(streamer)
                    streamer.timed = True  # type: ignore[attr-defined]
            keys = {k for table in self.main.query(ScanTable) for k in table.keys}
            shown = [(t.symbol, t.ts) for t in ticks if t.symbol in keys]

            def drawn() -> None:
                now = time.perf_counter()
                for key in shown:
                    at = sent.at.get(key)
                    if at is not None:
                        delays.append(now - at)

            self.call_after_refresh(drawn)

    app = Timed(_settings(), _options(db, stream=True))
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause(seconds)
    return {"delays": delays, "events": sent.count}


async def _poll_run(seconds: float, db: str) -> dict[str, Any]:
    delays: list[float] = []
    settings = _settings()
    settings.stream.enabled = False

    class Timed(MomoscanApp):
        last: dict[str, float] = {}

        def show_snapshot(self, snap: Any) -> None:
            super().show_snapshot(snap)
            rt = self.runtime
            if rt is None:
                return
            rows = [r for table in self.main.query(ScanTable) for r in table.rows]
            changed = [r for r in rows if self.last.get(r.symbol) not in (None, r.price)]
            for r in rows:
                self.last[r.symbol] = r.price
            # The market clock runs at real speed: a quote's minute began at this wall time.
            offset = time.time() - rt.clock.now().timestamp()

            def drawn() -> None:
                now = time.time()
                for r in changed:
                    began = r.quoted_at + offset
                    if began <= now:
                        delays.append(now - began)

            self.call_after_refresh(drawn)

    app = Timed(settings, _options(db, stream=False))
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.pause(seconds)
    return {"delays": delays}


async def _load_run(seconds: float, db: str, symbols: int) -> dict[str, Any]:
    """The event loop's lateness and the process's CPU with `symbols` names streaming."""
    settings = _settings()
    settings.scan.refresh_interval = 3600  # the stream alone, after the first sweep
    settings.universe.cap_tiers = ["nano", "micro", "small", "mid", "large", "mega"]
    app = MomoscanApp(settings, _options(db, stream=True, size=1000))
    lags: list[float] = []
    async with app.run_test(size=(150, 45)) as pilot:
        while app.runtime is None or app.refreshes < 1:
            await pilot.pause(0.1)
        engine = app.runtime.engine
        universe = sorted(s for s in (await engine.store.call(_symbols)))
        watch = universe[:symbols]
        # The watchlist the engine streams first is the database's (the config's only seeds
        # it): set for this run, not stored.
        engine.ctx.watchlist = watch
        await engine.stream_step.choose()
        deadline = time.monotonic() + 60
        while engine.stream_step.status().live < symbols:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {engine.stream_step.status().live} of {symbols} symbols streamed"
                )
            await pilot.pause(0.2)
        stop = False

        async def ticker() -> None:
            while not stop:
                t = time.perf_counter()
                await asyncio.sleep(0.010)
                lags.append(time.perf_counter() - t - 0.010)

        task = asyncio.create_task(ticker())
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        await pilot.pause(seconds)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        wall1 = time.perf_counter()
        stop = True
        await task
        live = engine.stream_step.status().live
        stored = engine.stream_step.ticks_stored
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "loop_p99_ms": _percentile(lags, 0.99) * 1000,
        "loop_max_ms": max(lags) * 1000,
        "cpu_pct": cpu / (wall1 - wall0) * 100,
        "live": live,
        "ticks_stored": stored,
    }


def _symbols(store: Any) -> list[str]:
    return list(store.universe_symbols())


def bench_stream(*, quick: bool = False, symbols: int = 500) -> dict[str, Any]:
    # Polling refreshes once a minute (the default interval): a run must see several.
    seconds = 70.0 if quick else 300.0
    with tempfile.TemporaryDirectory() as tmp:
        stream = asyncio.run(_stream_run(min(seconds, 120.0), str(Path(tmp) / "s.db")))
        poll = asyncio.run(_poll_run(seconds, str(Path(tmp) / "p.db")))
        load = asyncio.run(_load_run(20.0 if quick else 60.0, str(Path(tmp) / "l.db"), symbols))
    s, p = stream["delays"], poll["delays"]
    return {
        "stream": {
            "p50_s": round(statistics.median(s), 3) if s else None,
            "p99_s": round(_percentile(s, 0.99), 3) if s else None,
            "events": stream["events"],
            "shown": len(s),
        },
        "poll": {
            "p50_s": round(statistics.median(p), 3) if p else None,
            "p99_s": round(_percentile(p, 0.99), 3) if p else None,
            "shown": len(p),
        },
        "loop_p99_ms": round(load["loop_p99_ms"], 2),
        "loop_max_ms": round(load["loop_max_ms"], 2),
        "cpu_pct": round(load["cpu_pct"], 1),
        "symbols": load["live"],
    }


def main(argv: list[str]) -> int:
    result = bench_stream(quick="--quick" in argv)
    if "--json" in argv:
        print(json.dumps(result))
        return 0
    s, p = result["stream"], result["poll"]
    print(f"stream: p50 {s['p50_s']} s, p99 {s['p99_s']} s ({s['shown']} trades shown of "
          f"{s['events']} sent)")  # fmt: skip
    print(f"poll:   p50 {p['p50_s']} s, p99 {p['p99_s']} s ({p['shown']} changes shown)")
    print(f"{result['symbols']} symbols streaming: loop p99 {result['loop_p99_ms']} ms, max "
          f"{result['loop_max_ms']} ms, CPU {result['cpu_pct']}%")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
