"""The watchlist: each entry with its quote of the latest session and options share."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store
from .options import latest_cboe_day, option_shares
from .scan import _SCAN_SELECT, ScanRow, _scan_row, session_start


@dataclass(frozen=True, slots=True)
class WatchRow:
    """A watchlist entry with what momoscan has on it: its quote of the latest session (None:
    not quoted, e.g. outside the universe's cap tiers, or an index) and its options volume
    share of the watch set (percent, None when its chain was not fetched)."""

    symbol: str
    row: ScanRow | None
    in_universe: bool
    options_share: float | None


def watchlist_rows(store: Store, now: float | None = None) -> list[WatchRow]:
    """The watchlist, in its order, each symbol with its latest quote and options share."""
    symbols = store.watchlist()
    if not symbols:
        return []
    start = session_start(store, now)
    marks = ",".join("?" for _ in symbols)
    quoted = {
        r["symbol"]: _scan_row(r, start)
        for r in store.rows(f"{_SCAN_SELECT} WHERE q.symbol IN ({marks})", symbols)
    }
    members = {
        row[0]
        for row in store.conn.execute(
            f"SELECT symbol FROM tickers WHERE symbol IN ({marks})", symbols
        )
    }
    day = latest_cboe_day(store)
    shares = {s.underlying: s.share * 100 for s in option_shares(store, day)} if day else {}
    return [WatchRow(s, quoted.get(s), s in members, shares.get(s)) for s in symbols]
