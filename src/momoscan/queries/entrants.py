"""What the scanner's entries (`momoscan.entrants`) are judged on: the boards of the
session, which symbols momoscan had sampled before, and the entries already announced."""

from __future__ import annotations

from collections.abc import Sequence

from ..store import Store
from .scan import _QUOTED_AT, NO_FLOAT_BOUNDS, TOP_N, FloatBounds, ScanRow, _scan, session_start


def scanner_boards(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    now: float,
    limit: int = TOP_N,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> tuple[float | None, dict[str, list[ScanRow]]]:
    """The rankings the scanner's entries are judged on (`entrants.detect`): the session's
    start (Unix seconds; None with no quotes) and the top `limit` of the largest moves either
    way ("moves") and of share volume ("volume"), within `tiers` and above `min_price`
    (dollars), within the float bounds (shares). `now` is the market clock (Unix seconds)."""
    start = session_start(store, now)
    if start is None:
        return None, {}
    return start, {
        board: _scan(store, board, tiers, min_price, limit, start, floats)
        for board in ("moves", "volume")
    }


def session_coverage(store: Store, tiers: Sequence[str], start: float) -> int:
    """How many names of `tiers` have a quote of the session that began at `start` (Unix
    seconds): the boards rank these; a look that saw far fewer is not a baseline."""
    marks = ",".join("?" for _ in tiers)
    row = store.conn.execute(
        f"SELECT COUNT(*) FROM quotes q JOIN tickers t ON t.symbol = q.symbol "
        f"WHERE t.cap_tier IN ({marks}) AND {_QUOTED_AT} >= ?",
        (*tiers, start),
    ).fetchone()
    return int(row[0] or 0)


def sampled_before(store: Store, symbols: Sequence[str], start: float) -> set[str]:
    """Those of `symbols` with two or more stored samples (`quote_history`, one per sample
    period) since `start` (Unix seconds): momoscan knew their price before their newest one."""
    marks = ",".join("?" for _ in symbols)
    rows = store.rows(
        f"SELECT symbol FROM quote_history WHERE symbol IN ({marks}) AND ts >= ? "
        "GROUP BY symbol HAVING COUNT(*) >= 2",
        (*symbols, int(start)),
    )
    return {r["symbol"] for r in rows}


def announced_since(store: Store, rule: str, since: float) -> set[tuple[str, str]]:
    """(alert name, symbol) of the `rule`'s alerts fired after `since` (Unix seconds, market
    clock)."""
    rows = store.rows(
        "SELECT DISTINCT name, symbol FROM alert_events WHERE rule = ? AND at > ?",
        (rule, since),
    )
    return {(r["name"], r["symbol"]) for r in rows}
