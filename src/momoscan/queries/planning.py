"""What the engine reads to plan its work: the price stream's candidates and closes, the
scheduler's sweep state, volatility and options signals, and the hot set refreshed first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..store import Store
from .options import latest_cboe_day, latest_leaders, option_shares
from .scan import (
    _QUOTED_AT,
    NO_FLOAT_BOUNDS,
    FloatBounds,
    _scan,
    largest_moves,
    session_start,
    top_losers,
    top_movers,
    top_volume,
)


def stream_candidates(
    store: Store, tiers: Sequence[str], min_price: float, depth: int
) -> list[list[str]]:
    """The symbols of the top movers, losers and volume leaders, each down to `depth` ranks:
    what the price stream chooses its hot set from."""
    start = session_start(store)
    tables = [
        [r.symbol for r in table(store, tiers, min_price, depth, start=start)]
        for table in (top_movers, top_losers, top_volume)
    ]
    # Outside the session: the biggest extended-hours moves (the gappers, before the open).
    gaps = [r.symbol for r in _scan(store, "gaps", tiers, min_price, depth, start)]
    return [gaps, *tables]


def previous_closes(store: Store, symbols: Sequence[str]) -> dict[str, float]:
    """The previous close (dollars) of each symbol whose stored quote is from the latest
    session: a stream tick's % change is measured from it. (A quote from an earlier session
    holds an older close: such a symbol is polled first.)"""
    start = session_start(store) or 0.0
    out: dict[str, float] = {}
    for i in range(0, len(symbols), 500):
        chunk = symbols[i : i + 500]
        marks = ",".join("?" for _ in chunk)
        for symbol, close in store.conn.execute(
            f"SELECT symbol, prev_close FROM quotes q WHERE symbol IN ({marks}) "
            f"AND prev_close > 0 AND {_QUOTED_AT} >= ?",
            (*chunk, start),
        ):
            out[symbol] = float(close)
    return out


#: One stored quote as the scheduler reads it: (symbol, price, previous close, open, % change,
#: volume, average volume, the quote's time by the source's clock (Unix seconds; when momoscan
#: fetched it where the source gave no time), extended-hours price?, source).
SweepRow = tuple[
    str, float, float | None, float | None, float | None, int | None, int | None, float, int, str
]


def sweep_state(store: Store, since: float = -math.inf) -> tuple[list[SweepRow], float]:
    """The quotes stored (fetched, streamed, probed) at or after `since` (momoscan's clock,
    Unix seconds; all of them by default), as the scheduler takes them in each cycle, and
    the newest such time, to ask from next."""
    rows = store.conn.execute(
        "SELECT symbol, price, prev_close, open, change_pct, volume, avg_volume, "
        "COALESCE(quote_ts, fetched_at), extended, source, fetched_at FROM quotes "
        "WHERE fetched_at >= ?",
        (since if math.isfinite(since) else -1e18,),
    ).fetchall()
    newest = max((row[10] for row in rows), default=since)
    return [row[:10] for row in rows], newest


def realised_variance(
    store: Store, since: float, until: float, *, max_gap: float = 1800.0, least: int = 10
) -> dict[str, float]:
    """Each symbol's variance of returns per second of trading, from its intraday history
    between `since` and `until` (Unix seconds): squared relative changes between consecutive
    samples at most `max_gap` seconds apart (overnight gaps left out), over the seconds they
    span. Symbols with fewer than `least` such pairs are left out."""
    rows = store.conn.execute(
        "SELECT symbol, SUM(r * r), SUM(dt) FROM ("
        " SELECT symbol, price / LAG(price) OVER w - 1.0 AS r, ts - LAG(ts) OVER w AS dt"
        " FROM quote_history WHERE ts >= ? AND ts < ? AND price > 0"
        " WINDOW w AS (PARTITION BY symbol ORDER BY ts)"
        ") WHERE dt > 0 AND dt <= ? GROUP BY symbol HAVING COUNT(*) >= ?",
        (since, until, max_gap, least),
    ).fetchall()
    return {symbol: total / span for symbol, total, span in rows if span}


@dataclass(frozen=True, slots=True)
class OptionsSignal:
    """What the options data says of an underlying today: contracts trading far above their
    open interest, its share of the watch set's volume (0..1), a NEW daily top-10 entrant."""

    unusual: int
    share: float
    is_new: bool


def options_signals(
    store: Store, *, unusual_ratio: float = 1.25, unusual_min_volume: int = 500
) -> dict[str, OptionsSignal]:
    """The options activity the scheduler weighs: the latest Cboe day's watch set (unusual
    contracts, shares) and the newest daily leaders' NEW entrants."""
    out: dict[str, OptionsSignal] = {}
    day = latest_cboe_day(store)
    if day is not None:
        for row in option_shares(
            store, day, unusual_ratio=unusual_ratio, unusual_min_volume=unusual_min_volume
        ):
            out[row.underlying] = OptionsSignal(row.unusual, row.share, row.is_new)
    for leader in latest_leaders(store)[1]:
        if leader.is_new:
            held = out.get(leader.underlying)
            out[leader.underlying] = OptionsSignal(
                held.unusual if held else 0, held.share if held else 0.0, True
            )
    return out


def mover_symbols(store: Store, tiers: Sequence[str], min_price: float) -> list[str]:
    """Today's top movers for the options watch set: the largest moves, up or down (a name
    falling 20% on heavy volume draws as much options flow as one rising 20%)."""
    return [r.symbol for r in largest_moves(store, tiers, min_price)]


def hot_symbols(
    store: Store, tiers: Sequence[str], min_price: float, floats: FloatBounds = NO_FLOAT_BOUNDS
) -> list[str]:
    """The symbols on screen now (gainers, losers, volume): refreshed first in every sweep."""
    start = session_start(store)
    rows = [
        *top_movers(store, tiers, min_price, start=start, floats=floats),
        *top_losers(store, tiers, min_price, start=start, floats=floats),
        *top_volume(store, tiers, min_price, start=start, floats=floats),
    ]
    return list(dict.fromkeys(r.symbol for r in rows))
