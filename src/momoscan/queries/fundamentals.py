"""Float, short interest and short sale volume as the screens, the scheduler and the scan
filters read them, and what the fundamentals step reads to plan its fetches.

A figure nobody reported is absent or None, never 0. Dates are US/Eastern calendar days;
`fetched_at` is Unix seconds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from .. import market_hours as mh
from ..fundamentals import FloatFigure, ShortInterest, ShortVolume
from ..store import Store

_CHUNK = 500


def _day(value: object) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _rows(
    store: Store, sql: str, symbols: Collection[str] | None, tail: str = ""
) -> Iterator[tuple[Any, ...]]:
    """`sql` (a SELECT ... FROM t WHERE <condition>) over every row (symbols None) or those
    of `symbols`, in chunks; `tail` follows the condition (GROUP BY ...)."""
    if symbols is None:
        yield from store.conn.execute(f"{sql} 1 {tail}")
        return
    wanted = sorted(set(symbols))
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        marks = ",".join("?" for _ in chunk)
        yield from store.conn.execute(f"{sql} symbol IN ({marks}) {tail}", chunk)


def floats(store: Store, symbols: Collection[str] | None = None) -> dict[str, FloatFigure]:
    """Each symbol's stored float figure (all of them, or those of `symbols` that have one)."""
    out: dict[str, FloatFigure] = {}
    for row in _rows(
        store,
        "SELECT symbol, cik, shares_outstanding, shares_as_of, public_float_usd, float_as_of, "
        "float_shares, float_basis, fetched_at FROM floats WHERE",
        symbols,
    ):
        symbol, cik, shares, shares_as_of, public, float_as_of, float_shares, basis, at = row
        out[symbol] = FloatFigure(
            symbol=symbol,
            cik=int(cik or 0),
            shares_outstanding=int(shares) if shares else None,
            shares_as_of=_day(shares_as_of),
            public_float_usd=float(public) if public else None,
            float_as_of=_day(float_as_of),
            float_shares=int(float_shares) if float_shares else None,
            float_basis=basis or "",
            fetched_at=float(at or 0.0),
        )
    return out


def short_interest(
    store: Store, symbols: Collection[str] | None = None
) -> dict[str, ShortInterest]:
    """Each symbol's short interest on its latest settlement date stored."""
    out: dict[str, ShortInterest] = {}
    # SQLite's bare columns with MAX(): the other columns come from the row holding the max.
    for row in _rows(
        store,
        "SELECT symbol, MAX(settlement), short_shares, previous_shares, avg_daily_volume, "
        "days_to_cover FROM short_interest WHERE",
        symbols,
        "GROUP BY symbol",
    ):
        symbol, settlement, shares, previous, volume, days = row
        settled = _day(settlement)
        if settled is None or shares is None:
            continue
        out[symbol] = ShortInterest(
            symbol=symbol,
            settlement=settled,
            short_shares=int(shares),
            previous_shares=None if previous is None else int(previous),
            avg_daily_volume=None if volume is None else int(volume),
            days_to_cover=None if days is None else float(days),
        )
    return out


def short_volume(store: Store, symbols: Collection[str] | None = None) -> dict[str, ShortVolume]:
    """Each symbol's consolidated short sale volume on its latest trade date stored."""
    out: dict[str, ShortVolume] = {}
    for row in _rows(
        store,
        "SELECT symbol, MAX(day), short_volume, total_volume FROM short_volume WHERE",
        symbols,
        "GROUP BY symbol",
    ):
        symbol, day, short, total = row
        traded = _day(day)
        if traded is None:
            continue
        out[symbol] = ShortVolume(symbol, traded, float(short or 0.0), float(total or 0.0))
    return out


def float_fetched(store: Store, symbols: Collection[str] | None = None) -> dict[str, float]:
    """When each symbol's float figure was fetched (Unix seconds): the step's plan."""
    return {
        symbol: float(at or 0.0)
        for symbol, at in _rows(store, "SELECT symbol, fetched_at FROM floats WHERE", symbols)
    }


def closes_for_float(
    store: Store, as_of: Mapping[str, date | None]
) -> dict[str, tuple[float | None, float | None]]:
    """For each symbol: (its last regular-session price stored on the `as_of` day, from the
    intraday history; its latest previous close, else its latest price, from the quotes),
    dollars, None where the store has none: what a public float (USD) is divided by."""
    out: dict[str, tuple[float | None, float | None]] = {}
    recent: dict[str, float] = {}
    for symbol, prev_close, price in _rows(
        store, "SELECT symbol, prev_close, price FROM quotes WHERE", list(as_of)
    ):
        value = prev_close if prev_close and prev_close > 0 else price
        if value and value > 0:
            recent[symbol] = float(value)
    for symbol, day in as_of.items():
        at_date: float | None = None
        if day is not None:
            start = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET).timestamp()
            end = datetime.combine(day, mh.CLOSE, tzinfo=mh.ET).timestamp()
            row = store.conn.execute(
                "SELECT price FROM quote_history WHERE symbol = ? AND ts >= ? AND ts <= ? "
                "ORDER BY ts DESC LIMIT 1",
                (symbol, int(start), int(end)),
            ).fetchone()
            if row is not None and row[0] and row[0] > 0:
                at_date = float(row[0])
        out[symbol] = (at_date, recent.get(symbol))
    return out
