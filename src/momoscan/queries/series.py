"""Intraday series: a symbol's stored samples of the latest session, for the chart and
the tables' sparklines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..store import Store
from .scan import _QUOTED_AT, session_start


@dataclass(frozen=True, slots=True)
class Series:
    """One symbol's stored intraday samples of the latest session, oldest first: one point
    per stored sample (a quote sweep or the price stream, the newest of each history
    bucket), with the previous close where the stored quote is of that session."""

    symbol: str
    times: list[int]  # Unix seconds
    prices: list[float]
    volumes: list[int | None]  # the day's cumulative volume at each sample
    prev_close: float | None
    session_start: float | None

    def volume_bars(self) -> list[int]:
        """Shares traded between each sample and the one before (the first: since the day
        began); 0 where a sample has no volume or the feed's count went backwards."""
        out: list[int] = []
        last = 0
        for volume in self.volumes:
            if volume is None:
                out.append(0)
                continue
            out.append(max(0, volume - last))
            last = max(last, volume)
        return out


@dataclass(frozen=True, slots=True)
class Spark:
    """A row's sparkline: the session's prices, oldest first, the newest sample's time (its
    history bucket, Unix seconds) and the previous close."""

    prices: list[float]
    prev_close: float | None
    last_ts: int | None = None


def intraday_series(store: Store, symbol: str, now: float | None = None) -> Series:
    """`symbol`'s samples since the start (04:00 ET) of the latest session on record
    (`now`: the market clock, Unix seconds)."""
    start = session_start(store, now)
    rows = store.conn.execute(
        "SELECT ts, price, volume FROM quote_history WHERE symbol = ? AND ts >= ? ORDER BY ts",
        (symbol, int(start or 0)),
    ).fetchall()
    close = store.conn.execute(
        f"SELECT prev_close FROM quotes q WHERE symbol = ? AND {_QUOTED_AT} >= ?",
        (symbol, start or 0.0),
    ).fetchone()
    return Series(
        symbol,
        [int(ts) for ts, _, _ in rows],
        [float(price) for _, price, _ in rows],
        [None if volume is None else int(volume) for _, _, volume in rows],
        float(close[0]) if close and close[0] else None,
        start,
    )


def sparklines(
    store: Store, symbols: Sequence[str], *, start: float | None = None
) -> dict[str, Spark]:
    """The sparkline of each of `symbols` (the rows on screen) since `start` (04:00 ET of the
    latest session on record when not given), in one query."""
    if not symbols:
        return {}
    if start is None:
        start = session_start(store)
    marks = ",".join("?" for _ in symbols)
    prices: dict[str, list[float]] = {s: [] for s in symbols}
    last: dict[str, int] = {}
    for symbol, ts, price in store.conn.execute(
        f"SELECT symbol, ts, price FROM quote_history WHERE symbol IN ({marks}) AND ts >= ? "
        "ORDER BY symbol, ts",
        (*symbols, int(start or 0)),
    ):
        prices[symbol].append(float(price))
        last[symbol] = ts
    closes = dict(
        store.conn.execute(
            f"SELECT symbol, prev_close FROM quotes q WHERE symbol IN ({marks}) "
            f"AND {_QUOTED_AT} >= ?",
            (*symbols, start or 0.0),
        ).fetchall()
    )
    return {s: Spark(p, closes.get(s) or None, last.get(s)) for s, p in prices.items()}
