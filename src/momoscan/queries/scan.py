"""The scan tables: top gainers, losers, largest moves, volume leaders and pre-market
gappers, ranked among the quotes of the latest session on record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import market_hours as mh
from ..store import Store

TOP_N = 10
#: The float filter (`[scan] min_float`, `max_float`): shares, None for no bound.
FloatBounds = tuple[float | None, float | None]
NO_FLOAT_BOUNDS: FloatBounds = (None, None)


@dataclass(frozen=True, slots=True)
class ScanRow:
    symbol: str
    name: str
    exchange: str
    mic: str
    cap_tier: str
    category: str
    price: float
    change_pct: float | None
    volume: int | None
    avg_volume: int | None
    rvol: float | None
    fetched_at: float
    quote_ts: int | None
    current: bool = True  # from the latest session on record; False: halted or stale
    source: str = "poll"  # "poll" (/quote) or "stream" (the price stream)
    #: A pre-market or after-hours price; `regular_price` is then the regular session's close.
    extended: bool = False
    regular_price: float | None = None
    #: The whole-day relative volume (volume / average daily volume); `rvol` is at the time
    #: of day (rvol.py), `rvol_5m` the last five minutes' for names the stream carries.
    rvol_day: float | None = None
    rvol_5m: float | None = None

    @property
    def quoted_at(self) -> float:
        """Unix seconds of the quote by the source's own clock (when momoscan fetched it only
        where the source gave no time)."""
        return float(self.quote_ts) if self.quote_ts is not None else self.fetched_at

    def age(self, now: float) -> float:
        """Seconds since the source's quote time at market-clock time `now` (never negative)."""
        return max(0.0, now - self.quoted_at)


_SCAN_SELECT = (
    "SELECT q.symbol, t.name, t.exchange, t.mic, t.cap_tier, t.category, q.price, "
    "q.change_pct, q.volume, q.avg_volume, q.rvol, q.fetched_at, q.quote_ts, q.source, "
    "q.extended, q.regular_price, q.rvol_day, q.rvol_5m "
    "FROM quotes q JOIN tickers t ON t.symbol = q.symbol"
)
#: A quote's time by the source's clock; momoscan's fetch time only where the source gave none.
_QUOTED_AT = "COALESCE(q.quote_ts, q.fetched_at)"


def session_start(store: Store, now: float | None = None) -> float | None:
    """Start (04:00 ET) of the latest session on record: the trading day of the newest quote's
    own time (capped at `now`, the market clock, against a source clock running ahead). A
    quote older than this is from an earlier session (a halted stock, a symbol the source no
    longer updates): it is not today's mover or volume leader. None with no quotes stored."""
    row = store.conn.execute(f"SELECT MAX({_QUOTED_AT}) FROM quotes q").fetchone()
    if not row or row[0] is None:
        return None
    newest = float(row[0]) if now is None else min(float(row[0]), now)
    day = mh.current_trading_day(datetime.fromtimestamp(newest, mh.ET))
    return datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET).timestamp()


def _scan_row(r: dict[str, Any], start: float | None = None) -> ScanRow:
    return ScanRow(
        symbol=r["symbol"],
        name=r["name"],
        exchange=r["exchange"] or "",
        mic=r["mic"] or "",
        cap_tier=r["cap_tier"] or "",
        category=r["category"] or "",
        price=r["price"],
        change_pct=r["change_pct"],
        volume=r["volume"],
        avg_volume=r["avg_volume"],
        rvol=r["rvol"],
        fetched_at=r["fetched_at"],
        quote_ts=r["quote_ts"],
        current=start is None
        or (r["quote_ts"] if r["quote_ts"] is not None else r["fetched_at"]) >= start,
        source=r["source"] or "poll",
        extended=bool(r["extended"]),
        regular_price=r["regular_price"],
        rvol_day=r["rvol_day"],
        rvol_5m=r["rvol_5m"],
    )


#: What each table ranks by: (the condition a row must meet, the order).
RANKINGS = {
    "gainers": ("q.change_pct > 0", "q.change_pct DESC"),
    "losers": ("q.change_pct < 0", "q.change_pct ASC"),
    "moves": ("q.change_pct IS NOT NULL", "ABS(q.change_pct) DESC"),
    "volume": ("q.volume IS NOT NULL", "q.volume DESC"),
    # Extended-hours prices by the size of their move: before the open, the gaps.
    "gaps": ("q.extended = 1 AND q.change_pct IS NOT NULL", "ABS(q.change_pct) DESC"),
}


def _scan(
    store: Store,
    ranking: str,
    tiers: Sequence[str],
    min_price: float,
    limit: int,
    start: float | None = None,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> list[ScanRow]:
    """The top `limit` by `ranking` (a key of RANKINGS), among quotes of the latest session
    (`start`; found when not given), within the float bounds (shares; a name without a float
    figure is kept: unknown is not large or small)."""
    if start is None:
        start = session_start(store)
    where, order = RANKINGS[ranking]
    marks = ",".join("?" for _ in tiers)
    low, high = floats
    join = where_float = ""
    bounds: tuple[float, ...] = ()
    if low is not None or high is not None:
        join = " LEFT JOIN floats f ON f.symbol = q.symbol"
        where_float = " AND (f.float_shares IS NULL OR f.float_shares BETWEEN ? AND ?)"
        bounds = (low if low is not None else 0.0, high if high is not None else float("inf"))
    rows = store.rows(
        f"{_SCAN_SELECT}{join} "
        f"WHERE (t.cap_tier IN ({marks}) OR t.cap_tier = '' OR t.cap_tier IS NULL) "
        f"AND q.price >= ? AND {_QUOTED_AT} >= ? AND {where}{where_float} "
        f"ORDER BY {order}, q.symbol LIMIT ?",
        (*tiers, min_price, start or 0.0, *bounds, limit),
    )
    return [_scan_row(r) for r in rows]


def scan_row(store: Store, symbol: str, now: float | None = None) -> ScanRow | None:
    """One symbol's latest quote with its listing, whatever its rank; `current` is False when
    it is from an earlier session than the newest quotes (halted or stale)."""
    rows = store.rows(f"{_SCAN_SELECT} WHERE q.symbol = ?", (symbol,))
    return _scan_row(rows[0], session_start(store, now)) if rows else None


def top_movers(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> list[ScanRow]:
    """The biggest gainers (% change above 0) of the latest session, within the tiers and
    above the price floor."""
    return _scan(store, "gainers", tiers, min_price, limit, start, floats)


def top_losers(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> list[ScanRow]:
    """The biggest fallers (% change below 0, most first) of the latest session."""
    return _scan(store, "losers", tiers, min_price, limit, start, floats)


def largest_moves(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> list[ScanRow]:
    """The largest moves either way (by the size of the % change) of the latest session."""
    return _scan(store, "moves", tiers, min_price, limit, start, floats)


def top_volume(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> list[ScanRow]:
    """The most traded by share volume in the latest session, within the tiers and above the
    price floor."""
    return _scan(store, "volume", tiers, min_price, limit, start, floats)


@dataclass(frozen=True, slots=True)
class GapRow:
    """A pre-market gapper: its pre-market price against the previous close.

    `gap_pct` is percent units; `premarket_volume` is shares traded since 04:00 ET where the
    feed says (the price stream's day volume; None from a /quote poll); `premarket_rvol` is
    that volume over the stock's usual volume by the same time of the pre-market, from the
    stored history of earlier days (None until there is some)."""

    row: ScanRow
    prev_close: float | None
    gap_pct: float
    premarket_volume: int | None
    premarket_rvol: float | None

    @property
    def symbol(self) -> str:
        return self.row.symbol


def gappers(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    now: float,
    history_days: int = 5,
) -> list[GapRow]:
    """Today's biggest pre-market gaps, up or down, among extended-hours quotes of today's
    session (`now`: the market clock, Unix seconds): what a trader scans before the open."""
    day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
    start = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET).timestamp()
    found = _scan(store, "gaps", tiers, min_price, limit, start)
    earlier = [
        datetime.combine(d, mh.PRE_OPEN, tzinfo=mh.ET).timestamp()
        for d in mh.trading_days_before(day, history_days)
    ]
    since_open = now - start
    out = []
    for row in found:
        usual = []
        for day_start in earlier:
            at = day_start + since_open
            sample = store.conn.execute(
                "SELECT volume FROM quote_history WHERE symbol = ? AND ts <= ? AND ts > ? "
                "AND volume IS NOT NULL ORDER BY ts DESC LIMIT 1",
                (row.symbol, at, day_start),
            ).fetchone()
            if sample and sample[0]:
                usual.append(sample[0])
        average = sum(usual) / len(usual) if usual else None
        volume = row.volume
        out.append(
            GapRow(
                row,
                row.regular_price,
                float(row.change_pct or 0.0),
                volume,
                volume / average if volume and average else None,
            )
        )
    return out
