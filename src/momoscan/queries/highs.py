"""Highs of the day: each name's regular-session high and how many new highs it made, as the
quote and tick writes keep them (store/highs.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..models import DayHigh
from ..store import Store


def day_highs(store: Store, day: date, symbols: Sequence[str] | None = None) -> dict[str, DayHigh]:
    """The highs of `day` (US/Eastern), by symbol: of `symbols`, or of every name with one.
    A name whose latest stored session day is another one has none for `day`. `high` is in
    dollars, `at` Unix seconds (market clock) of the latest new high (of the first price of
    the day while `count` is 0)."""
    select = "SELECT symbol, high, count, at FROM day_highs WHERE day = ?"
    key = day.isoformat()
    if symbols is None:
        rows = store.conn.execute(select, (key,)).fetchall()
    else:
        rows = []
        for n in range(0, len(symbols), 500):
            chunk = symbols[n : n + 500]
            rows += store.conn.execute(
                f"{select} AND symbol IN ({','.join('?' for _ in chunk)})", (key, *chunk)
            ).fetchall()
    return {s: DayHigh(s, float(h), int(c), float(a)) for s, h, c, a in rows}
