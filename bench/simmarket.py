"""Benchmark of the simulated market's own process (issue 14): resident memory by universe size,
and how soon it answers while the day's paths are still being built.

Each run starts the market in a process of its own, as the app does (`ProcessMarketTransport`),
then uses it as a demo refresh does: /api_usage, a sweep of every stock in batches of 120, the
market movers, three option chains and the session so far; then the clock moves to the next
trading morning (a new day built, the previous one kept for its bar) and the sweep runs again.
The worker's resident memory (VmRSS) is read from /proc after each, and its peak (VmHWM) at the end.

    .venv/bin/python bench/simmarket.py               # 1,000 / 4,000 / 8,000 / 16,000 symbols
    .venv/bin/python bench/simmarket.py 546 16000     # chosen sizes (0 or 546: the built-in one)
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.transport import ProcessMarketTransport

SIZES = (1000, 4000, 8000, 16000)
START = datetime(2026, 11, 19, 14, 0, tzinfo=mh.ET)  # a Thursday afternoon
NEXT_MORNING = datetime(2026, 11, 20, 9, 45, tzinfo=mh.ET)
HEADERS = {"authorization": "apikey demo"}


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid`, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


async def _sweep(client: httpx.AsyncClient, symbols: list[str]) -> None:
    for i in range(0, len(symbols), 120):
        chunk = ",".join(symbols[i : i + 120])
        (await client.get("/quote", params={"symbol": chunk})).raise_for_status()
    for direction in ("gainers", "losers"):
        await client.get("/market_movers/stocks", params={"direction": direction})
    for name in ("_SPX", "AAPL", "TSLA"):
        await client.get(f"/api/global/delayed_quotes/options/{name}.json")


async def _one(size: int) -> dict[str, Any]:
    clock = FixedClock(START)
    began = time.perf_counter()
    transport = ProcessMarketTransport(
        seed=7,
        size=size,
        clock=clock,
        first_day=START.date(),
        plan_limit=10**9,
        latency=0.0,
    )
    (pid,) = list(transport._pool._processes)  # the worker's pid, read from /proc
    out: dict[str, Any] = {"size": size}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="https://sim.test", headers=HEADERS, timeout=600
        ) as client:
            (await client.get("/api_usage")).raise_for_status()
            out["api_usage_s"] = time.perf_counter() - began
            symbols = [t.symbol for t in await transport.tickers()]
            out["tickers_s"] = time.perf_counter() - began
            (
                await client.get("/quote", params={"symbol": ",".join(symbols[:120])})
            ).raise_for_status()
            out["first_quote_s"] = time.perf_counter() - began
            await _sweep(client, symbols)
            await transport.session_rows(["nano", "micro", "small", "mid", "large", "mega"])
            out["rss_mb"] = _status(pid)["VmRSS"]
            clock.at = NEXT_MORNING
            await _sweep(client, symbols)
            status = _status(pid)
            out["rss_next_day_mb"] = status["VmRSS"]
            out["peak_mb"] = status["VmHWM"]
    finally:
        await transport.aclose()
    return out


def measure(size: int) -> dict[str, Any]:
    """One run at `size` symbols (0: the built-in universe), in a fresh market process."""
    return anyio.run(_one, size)


def bench_market_memory(
    sizes: tuple[int, ...] = SIZES, runs: int = 3
) -> dict[int, dict[str, list[float]]]:
    """Each run's figures by size: {size: {figure: [run, ...]}}."""
    out: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        per: dict[str, list[float]] = {}
        for _ in range(runs):
            for key, value in measure(size).items():
                if key != "size":
                    per.setdefault(key, []).append(float(value))
        out[size] = per
    return out


def _summary(values: list[float]) -> str:
    return f"{min(values):,.1f} / {statistics.median(values):,.1f} / {max(values):,.1f}"


if __name__ == "__main__":
    chosen = tuple(int(a) for a in sys.argv[1:]) or SIZES
    results = bench_market_memory(chosen)
    for size, figures in results.items():
        print(f"{size:>6} symbols (min / median / max of {len(figures['rss_mb'])} runs)")
        for key, values in figures.items():
            print(f"    {key:<16} {_summary(values)}")
