"""Highs of the day: each name's highest regular-session price of its latest session day, and
how many new highs it made that day.

One row a symbol (`day_highs`): a price of the session day stored that is above the stored
high is a new high (`count` + 1, `at` its time); the first price of a day starts the row
afresh with `count` 0 (an opening print is not "new"); a price of an earlier day is ignored.
Only regular-session prices count (09:30 to the close, US/Eastern, by the price's own time on
the market clock): pre-market and after-hours prices never make or move a high.

The rows are written in the transaction of the quotes they come from (`store_quotes`,
`store_stream_ticks`), one `executemany` a batch: `quote_highs` and `tick_highs` pick the
rows, `upsert_highs` writes them. (Tried: picking and computing in the statement itself from
the quote rows as `store_quotes` binds them, which costs more: binding 16 values a row instead
of 4.)
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime

from .. import market_hours as mh
from ..models import Quote
from .connection import StoreBase

#: (symbol, US/Eastern day as ISO text, price in dollars, Unix seconds of the price).
HighRow = tuple[str, str, float, float]

_UPSERT = (
    "INSERT INTO day_highs (symbol, day, high, count, at) VALUES (?1, ?2, ?3, 0, ?4) "
    "ON CONFLICT (symbol) DO UPDATE SET "
    # Every expression here reads the stored row as it was: a later day starts afresh.
    "count = CASE WHEN excluded.day = day THEN count + 1 ELSE 0 END, "
    "day = excluded.day, high = excluded.high, at = excluded.at "
    "WHERE excluded.day > day OR (excluded.day = day AND excluded.high > high)"
)


@functools.lru_cache(maxsize=16)
def _session(day: date) -> tuple[str, float, float] | None:
    """`day`'s ISO text and regular session as Unix seconds [open, close); None when the
    market does not open that day."""
    if not mh.is_trading_day(day):
        return None
    _, open_, close, _ = mh.session_bounds(day)
    return day.isoformat(), open_.timestamp(), close.timestamp()


def regular_session(ts: float) -> tuple[str, float, float] | None:
    """The regular session (its day's ISO text, open and close in Unix seconds) that `ts`
    (Unix seconds) falls in; None when `ts` is outside one (pre-market, after hours, a closed
    day)."""
    session = _session(datetime.fromtimestamp(ts, mh.ET).date())
    if session is None or not session[1] <= ts < session[2]:
        return None
    return session


def quote_highs(quotes: Sequence[Quote]) -> list[HighRow]:
    """What a /quote batch says of the day's highs: each regular-session quote's price or
    its `high` (the day's high, Twelve Data's daily bar), whichever is higher, at the quote's
    time (`quote_ts`). The session is that of the batch's newest quote: an older quote of an
    earlier day (a halted name's, say) says nothing of today's high. Quotes without a time,
    and extended-hours prices, are left out.

    Not confirmed against the live service: whether /quote's `high` leaves out pre-market
    trades (its daily bar is taken to be the regular session's, as its `open` is)."""
    newest = max((q.quote_ts for q in quotes if q.quote_ts is not None), default=None)
    session = None if newest is None else regular_session(newest)
    if session is None:
        return []
    day, start, end = session
    return [
        (q.symbol, day, q.price if q.high is None or q.high < q.price else q.high, q.quote_ts)
        for q in quotes
        if q.quote_ts is not None and start <= q.quote_ts < end and not q.extended
    ]


def tick_highs(ticks: Sequence[tuple[str, float, float | None, int | None, int]]) -> list[HighRow]:
    """What streamed trades (symbol, price, change, volume, Unix seconds) say of the day's
    highs: each regular-session trade's price at its time, within the session of the newest."""
    if not ticks:
        return []
    session = regular_session(max(t[4] for t in ticks))
    if session is None:
        return []
    day, start, end = session
    return [(t[0], day, t[1], t[4]) for t in ticks if start <= t[4] < end]


def upsert_highs(conn: sqlite3.Connection, rows: Sequence[HighRow]) -> None:
    """Inside the caller's transaction: `rows` onto the stored highs, one statement."""
    if rows:
        conn.executemany(_UPSERT, rows)


class HighsMixin(StoreBase):
    # `_high_floors` (StoreBase): each symbol's (day, high) as this connection last wrote it,
    # a floor under what is stored (a stored high only rises within its day, and only the
    # collector writes it), so a price at or under it is no new high and is not written: most
    # of a sweep's quotes, which then cost a dict look-up instead of a statement. Emptied
    # whenever highs are deleted (`forget_after`).

    def _new_highs(self, rows: Sequence[HighRow]) -> list[HighRow]:
        """Those of `rows` that may be new highs: above this connection's floor of their day."""
        floors = self._high_floors
        out = []
        for row in rows:
            floor = floors.get(row[0])
            if floor is None or floor[0] != row[1] or row[2] > floor[1]:
                out.append(row)
        return out

    def _wrote_highs(self, rows: Sequence[HighRow]) -> None:
        """After the commit that wrote `rows`: raise the floors (never before: a rolled-back
        write must leave them where the database is)."""
        floors = self._high_floors
        for symbol, day, high, _ in rows:
            floor = floors.get(symbol)
            if floor is None or floor[0] != day or high > floor[1]:
                floors[symbol] = (day, high)
