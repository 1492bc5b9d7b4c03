"""The demo's session so far: the intraday history a momoscan running since the open would
have stored, written when a demo starts, so that its sparklines and charts show the day's path
at once instead of a point.

The simulated market is a deterministic function of its seed and the clock, so the main
process rebuilds the day it needs here (a tenth of a second for 8,000 symbols) even when the
market itself runs in a worker process. Only the regular session's completed five-minute
buckets are written, each with the price at its last minute and the session's volume so far,
as `Store.store_quotes` writes a sweep's; what is stored already wins (INSERT OR IGNORE).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..clock import MarketClock
from ..store import HISTORY_BUCKET_OPEN, Store
from .market import OPEN_MINUTE, SimMarket

#: Minutes per bucket.
STEP = HISTORY_BUCKET_OPEN // 60


def seed_session_history(
    path: Path,
    clock: MarketClock,
    *,
    seed: int,
    size: int,
    tiers: Sequence[str],
    market: SimMarket | None = None,
) -> int:
    """Write the regular session's buckets completed before the clock's now (the latest
    session's, when the market is closed), for the stocks in `tiers` (those the sweep
    quotes). Returns the rows written."""
    market = market or SimMarket(seed, size, clock)
    sim_day, minute, _ = market.now_state()
    last = min(minute, sim_day.close_minute)  # buckets ending at or before this minute
    indices = [
        i for i, s in enumerate(market.securities) if s.kind == "stock" and s.cap_tier in tiers
    ]
    if last - OPEN_MINUTE < STEP or not indices:
        return 0
    symbols = [market.securities[i].symbol for i in indices]
    opened = sim_day.cum_volume[indices, OPEN_MINUTE - 1]
    rows: list[tuple[str, int, float, int]] = []
    for start in range(OPEN_MINUTE, last - STEP + 1, STEP):
        end = start + STEP - 1
        ts = int(sim_day.at_minute(start).timestamp())
        prices = sim_day.price[indices, end].tolist()
        volumes = (sim_day.cum_volume[indices, end] - opened).tolist()
        rows.extend(
            (symbol, ts, float(price), int(volume))
            for symbol, price, volume in zip(symbols, prices, volumes, strict=True)
        )
    with Store(path) as store, store.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO quote_history (symbol, ts, price, volume) VALUES (?, ?, ?, ?)",
            rows,
        )
        return int(conn.total_changes - before)
