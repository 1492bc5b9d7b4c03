"""Alerts: what an alert rule observes of each symbol, and what fired on a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..models import AlertEvent
from ..store import Store
from .options import latest_cboe_day, latest_leaders, option_shares
from .scan import _QUOTED_AT, session_start


@dataclass(frozen=True, slots=True)
class Observation:
    """What an alert rule looks at for one symbol; None where momoscan does not know (no
    quote of the latest session, a chain not fetched, no daily leaders yet)."""

    symbol: str
    price: float | None = None
    change_pct: float | None = None
    rvol: float | None = None
    options_share: float | None = None  # percent of the options watch set's volume
    new_entrant: bool | None = None
    leader_rank: int | None = None
    #: Within the scan's filters (cap tiers, price floor), or an options underlying without a
    #: quote: what a rule without a symbol looks at.
    in_scan: bool = False


def alert_observations(
    store: Store,
    symbols: Sequence[str] | None,
    *,
    tiers: Sequence[str],
    min_price: float,
    now: float | None = None,
) -> dict[str, Observation]:
    """Observations of `symbols`, or, with None, of every symbol quoted in the latest
    session within `tiers` and above `min_price` plus every underlying with an options share
    or a NEW place in the daily leaders. A quote older than the latest session is not known."""
    start = session_start(store, now) or 0.0
    marks = ",".join("?" for _ in tiers)
    in_scan = (
        f"((t.cap_tier IN ({marks}) OR t.cap_tier = '' OR t.cap_tier IS NULL) AND q.price >= ?)"
    )
    select = (
        f"SELECT q.symbol, q.price, q.change_pct, q.rvol, {in_scan} FROM quotes q "
        f"JOIN tickers t ON t.symbol = q.symbol WHERE {_QUOTED_AT} >= ?"
    )
    quotes: dict[str, tuple[float, float | None, float | None, bool]] = {}
    if symbols is None:
        cursor = store.conn.execute(
            f"{select} AND {in_scan}", (*tiers, min_price, start, *tiers, min_price)
        )
        quotes = {s: (p, c, r, bool(i)) for s, p, c, r, i in cursor}
    else:
        for n in range(0, len(symbols), 500):
            chunk = symbols[n : n + 500]
            cursor = store.conn.execute(
                f"{select} AND q.symbol IN ({','.join('?' for _ in chunk)})",
                (*tiers, min_price, start, *chunk),
            )
            quotes.update({s: (p, c, r, bool(i)) for s, p, c, r, i in cursor})
    day = latest_cboe_day(store)
    shares = {s.underlying: s.share * 100 for s in option_shares(store, day)} if day else {}
    _, leaders = latest_leaders(store)
    new = {x.underlying: x.rank for x in leaders if x.is_new}
    wanted = list(dict.fromkeys([*quotes, *shares, *new])) if symbols is None else list(symbols)
    out = {}
    for symbol in wanted:
        price, change, rvol, scanned = quotes.get(symbol, (None, None, None, False))
        out[symbol] = Observation(
            symbol,
            price,
            change,
            rvol,
            shares.get(symbol) if day else None,
            (symbol in new) if leaders else None,
            new.get(symbol),
            in_scan=scanned or (price is None and (symbol in shares or symbol in new)),
        )
    return out


def _event(r: dict[str, Any]) -> AlertEvent:
    return AlertEvent(
        rule=r["rule"],
        name=r["name"],
        symbol=r["symbol"],
        message=r["message"],
        at=float(r["at"]),
        day=date.fromisoformat(r["day"]),
        price=r["price"],
        change_pct=r["change_pct"],
        rvol=r["rvol"],
        options_share=r["options_share"],
    )


def alerts_on(store: Store, day: date) -> list[AlertEvent]:
    """What fired on `day` (a trading day), newest first."""
    return [
        _event(r)
        for r in store.rows(
            "SELECT * FROM alert_events WHERE day = ? ORDER BY at DESC, id DESC",
            (day.isoformat(),),
        )
    ]


def last_alert_id(store: Store) -> int:
    """The id of the newest alert event stored (0 when none): a viewer's starting point."""
    row = store.conn.execute("SELECT max(id) FROM alert_events").fetchone()
    return int(row[0] or 0)


def alerts_after(store: Store, after_id: int) -> list[tuple[int, AlertEvent]]:
    """The alert events stored after event `after_id`, oldest first, with their ids (what a
    viewer has not shown yet)."""
    return [
        (int(r["id"]), _event(r))
        for r in store.rows("SELECT * FROM alert_events WHERE id > ? ORDER BY id", (after_id,))
    ]
