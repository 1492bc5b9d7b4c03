"""The demo's session so far: the intraday history a momoscan running since the open would
have stored, added when a demo starts, so that its sparklines and charts show the day's path
instead of a point.

The rows come from the simulated market where it runs (its own process, usually: the app's
process never imports numpy for it) and are written through the store's one writer. Only the
regular session's completed five-minute buckets are written, each with the price at its last
minute and the session's volume so far, as `Store.store_quotes` writes a sweep's; what is
stored already wins (INSERT OR IGNORE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..store import HISTORY_BUCKET_OPEN, Store

if TYPE_CHECKING:
    from .market import SimMarket

#: Minutes per bucket.
STEP = HISTORY_BUCKET_OPEN // 60

Row = tuple[str, int, float, int]


def session_rows(market: SimMarket, tiers: Sequence[str]) -> list[Row]:
    """(symbol, bucket's Unix seconds, price, session volume) of the regular session's buckets
    completed before the market clock's now (the latest session's, when the market is closed),
    for the stocks in `tiers` (those the sweep quotes)."""
    sim_day, minute, _ = market.now_state()
    opening = sim_day.open_index
    last = min(minute, sim_day.close_minute)  # buckets ending at or before this minute
    indices = [
        i for i, s in enumerate(market.securities) if s.kind == "stock" and s.cap_tier in tiers
    ]
    if last - opening < STEP or not indices:
        return []
    symbols = [market.securities[i].symbol for i in indices]
    opened = sim_day.cum_volume_at(indices, opening - 1)
    rows: list[Row] = []
    for start in range(opening, last - STEP + 1, STEP):
        end = start + STEP - 1
        ts = int(sim_day.at_minute(start).timestamp())
        prices = sim_day.price_at(indices, end).tolist()
        volumes = (sim_day.cum_volume_at(indices, end) - opened).tolist()
        rows.extend(
            (symbol, ts, float(price), int(volume))
            for symbol, price, volume in zip(symbols, prices, volumes, strict=True)
        )
    return rows


def store_history(store: Store, rows: Sequence[Row]) -> int:
    """Write `rows` where nothing is stored yet, in one transaction. Returns the rows added."""
    with store.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO quote_history (symbol, ts, price, volume) VALUES (?, ?, ?, ?)",
            rows,
        )
        return int(conn.total_changes - before)
