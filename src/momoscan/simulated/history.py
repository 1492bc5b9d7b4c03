"""The demo's session so far: the intraday history a momoscan running since the open would
have stored, added when a demo starts, so that its sparklines and charts show the day's path
instead of a point.

The rows come from the simulated market where it runs (its own process, usually: the app's
process never imports numpy for it) and are written through the store's one writer. Only the
regular session's completed five-minute buckets are written, each with the price at its last
minute and the session's volume so far, as `Store.store_quotes` writes a sweep's; what is
stored already wins (INSERT OR IGNORE).

The market's process sends them as columns (`session_columns`: a few bytes a row, where a
Python tuple takes some 130; 8,000 names at 14:00 are 430,000 rows) and the app's side makes
the rows (`expand`), so that neither process holds the rows twice over (objects and pickle).
This module imports neither numpy nor the store at its top: it is read on both sides.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store
    from .market import SimMarket

Row = tuple[str, int, float, int]
#: (symbols, each bucket's Unix seconds, prices, volumes): prices float32 and session volumes
#: int64 in native byte order, bucket by bucket, each bucket's in the order of the symbols.
Columns = tuple[list[str], list[int], bytes, bytes]


def bucket_minutes() -> int:
    """Minutes per bucket: the store's bucket for samples of the regular session."""
    from ..store import HISTORY_BUCKET_OPEN

    return HISTORY_BUCKET_OPEN // 60


def session_columns(market: SimMarket, tiers: Sequence[str], step: int) -> Columns:
    """The regular session's `step`-minute buckets completed before the market clock's now
    (the latest session's, when the market is closed), for the stocks in `tiers` (those the
    sweep quotes), as columns (see `Columns`): the price at each bucket's last minute, in
    dollars, and the shares traded from the open through it."""
    import numpy as np

    sim_day, minute, _ = market.now_state()
    opening = sim_day.open_index
    last = min(minute, sim_day.close_minute)  # buckets ending at or before this minute
    indices = [
        i for i, s in enumerate(market.securities) if s.kind == "stock" and s.cap_tier in tiers
    ]
    if last - opening < step or not indices:
        return [], [], b"", b""
    symbols = [market.securities[i].symbol for i in indices]
    opened = sim_day.cum_volume_at(indices, opening - 1)
    starts = range(opening, last - step + 1, step)
    stamps = [int(sim_day.at_minute(start).timestamp()) for start in starts]
    prices = np.empty((len(starts), len(indices)), dtype=np.float32)
    volumes = np.empty((len(starts), len(indices)), dtype=np.int64)
    for k, start in enumerate(starts):
        end = start + step - 1
        prices[k] = sim_day.price_at(indices, end)
        # Truncated toward zero, as int() truncates the float it replaces.
        volumes[k] = (sim_day.cum_volume_at(indices, end) - opened).astype(np.int64)
    return symbols, stamps, prices.tobytes(), volumes.tobytes()


def expand(columns: Columns) -> list[Row]:
    """(symbol, bucket's Unix seconds, price, session volume) rows from `session_columns`'s
    columns, bucket by bucket (numpy-free: this runs in the app's process)."""
    symbols, stamps, price_bytes, volume_bytes = columns
    prices = array("f")
    prices.frombytes(price_bytes)
    volumes = array("q")
    volumes.frombytes(volume_bytes)
    n = len(symbols)
    rows: list[Row] = []
    for k, ts in enumerate(stamps):
        bucket_prices = prices[k * n : (k + 1) * n].tolist()
        bucket_volumes = volumes[k * n : (k + 1) * n].tolist()
        rows.extend(
            (symbol, ts, price, volume)
            for symbol, price, volume in zip(symbols, bucket_prices, bucket_volumes, strict=True)
        )
    return rows


def session_rows(market: SimMarket, tiers: Sequence[str]) -> list[Row]:
    """(symbol, bucket's Unix seconds, price, session volume) of the regular session's buckets
    completed before the market clock's now (the latest session's, when the market is closed),
    for the stocks in `tiers` (those the sweep quotes)."""
    return expand(session_columns(market, tiers, bucket_minutes()))


def store_history(store: Store, rows: Sequence[Row]) -> int:
    """Write `rows` where nothing is stored yet, in one transaction (through the store: only
    the store and queries speak SQL). Returns the rows added."""
    return store.add_history(rows)
