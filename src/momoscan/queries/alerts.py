"""Alerts: what an alert rule observes of each symbol, and what fired on a day."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .. import market_hours as mh
from ..halts import ShortSaleRestriction
from ..models import AlertEvent, DayHigh
from ..store import HISTORY_BUCKET_OPEN, Store
from .halts import HaltState, halt_states, restrictions_on
from .highs import day_highs
from .options import latest_cboe_day, latest_leaders, option_shares
from .scan import _QUOTED_AT, session_start


@dataclass(frozen=True, slots=True)
class Move:
    """A symbol's stored prices within a window of minutes (`pct_in_minutes`): the lowest and
    the highest (dollars), each with its history bucket's start (Unix seconds)."""

    low: float
    low_at: float
    high: float
    high_at: float


@dataclass(frozen=True, slots=True)
class Observation:
    """What an alert rule looks at for one symbol; None where momoscan does not know (no
    quote of the latest session, a chain not fetched, no daily leaders yet, no stored price
    within a window)."""

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
    #: Today's high of the day (asked for with `highs`).
    high: DayHigh | None = None
    #: The latest halt, while halted or just resumed (asked for with `halts`).
    halt: HaltState | None = None
    #: A Rule 201 restriction in force today (asked for with `halts`).
    ssr: ShortSaleRestriction | None = None
    #: The stored prices within each window asked for, by its minutes (`windows`).
    moves: dict[int, Move] = field(default_factory=dict)


def price_moves(store: Store, symbols: Sequence[str], minutes: int, now: float) -> dict[str, Move]:
    """The lowest and highest stored price of each of `symbols` within the last `minutes`
    (`now`: the market clock, Unix seconds).

    What is stored is one price a history bucket (store/quotes.py: the latest price seen in
    each 5 minutes of the regular session; 30 minutes of a poll outside it), known by the
    bucket's start. The buckets that end within the window count, each told by its start: a
    move is never said to be faster than it was, and N holds to within a bucket (for a name
    sampled often, the stream's or the hot set's, a bucket's price is that of its end, so a
    move may be seen over N - 5 minutes; for one polled now and then, the price may be up to
    a bucket older than N). Outside the regular session a poll's buckets are 30 minutes, so
    a short window rarely holds two of them. A symbol without a stored price in the window
    is left out."""
    since = now - minutes * 60 - HISTORY_BUCKET_OPEN
    lows: dict[str, tuple[float, float]] = {}
    highs: dict[str, tuple[float, float]] = {}
    for n in range(0, len(symbols), 500):
        chunk = symbols[n : n + 500]
        where = f"symbol IN ({','.join('?' for _ in chunk)}) AND ts > ? AND ts <= ?"
        for pick, out in (("MIN", lows), ("MAX", highs)):
            # SQLite takes the bare column `ts` from the row holding the MIN/MAX.
            for symbol, price, ts in store.conn.execute(
                f"SELECT symbol, {pick}(price), ts FROM quote_history WHERE {where} "
                "GROUP BY symbol",
                (*chunk, since, now),
            ):
                out[symbol] = (float(price), float(ts))
    return {s: Move(low, low_at, *highs[s]) for s, (low, low_at) in lows.items() if s in highs}


def _scanned(
    store: Store, symbols: Sequence[str], tiers: Sequence[str], min_price: float
) -> set[str]:
    """Those of `symbols` the scan's filters let in by their listing (cap tier) and last
    stored price (a name without one passes): a halted name's quote may be days old."""
    marks = ",".join("?" for _ in tiers)
    out: set[str] = set()
    for n in range(0, len(symbols), 500):
        chunk = symbols[n : n + 500]
        out.update(
            s
            for (s,) in store.conn.execute(
                "SELECT t.symbol FROM tickers t LEFT JOIN quotes q ON q.symbol = t.symbol "
                f"WHERE t.symbol IN ({','.join('?' for _ in chunk)}) "
                f"AND (t.cap_tier IN ({marks}) OR t.cap_tier = '' OR t.cap_tier IS NULL) "
                "AND COALESCE(q.price, ?) >= ?",
                (*chunk, *tiers, min_price, min_price),
            )
        )
    return out


def alert_observations(
    store: Store,
    symbols: Sequence[str] | None,
    *,
    tiers: Sequence[str],
    min_price: float,
    now: float | None = None,
    highs: bool = False,
    halts: bool = False,
    windows: Collection[int] = (),
) -> dict[str, Observation]:
    """Observations of `symbols`, or, with None, of every symbol quoted in the latest
    session within `tiers` and above `min_price` plus every underlying with an options share
    or a NEW place in the daily leaders. A quote older than the latest session is not known.

    Args:
        now: the market clock (Unix seconds); the wall clock's session when None.
        highs: also read today's highs of the day (`Observation.high`).
        halts: also read the halts (halted now, or resumed within `RECENT_RESUME`) and the
            Rule 201 restrictions in force today; with `symbols` None, the names halted or
            restricted in the universe's cap tiers are observed too, quoted or not.
        windows: minutes of the `pct_in_minutes` windows to read (`price_moves`); needs `now`.
    """
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
    today = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET)) if now else None
    halted: dict[str, HaltState] = {}
    restricted: dict[str, ShortSaleRestriction] = {}
    listed: set[str] = set()
    if halts and now is not None and today is not None:
        halted = halt_states(store, now)
        restricted = restrictions_on(store, today)
        if symbols is None:
            others = sorted({*halted, *restricted} - set(quotes))
            listed = _scanned(store, others, tiers, min_price)
            wanted += others
    highs_of = day_highs(store, today, wanted) if highs and today is not None else {}
    moves: dict[int, dict[str, Move]] = {}
    if windows and now is not None:
        priced = [s for s in wanted if s in quotes]
        moves = {n: price_moves(store, priced, n, now) for n in windows}
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
            in_scan=scanned
            or symbol in listed
            or (price is None and (symbol in shares or symbol in new)),
            high=highs_of.get(symbol),
            halt=halted.get(symbol),
            ssr=restricted.get(symbol),
            moves={n: m[symbol] for n, m in moves.items() if symbol in m},
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
