"""Read queries over the store: what the screens and the headless output show.

Each function takes a `Store` first, so it runs the same on the engine's store thread
(`StoreThread.call(fn, ...)`) and on a reader's own connection.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from . import market_hours as mh
from .models import AlertEvent, Leader, Session, Ticker
from .store import Store

TOP_N = 10


@dataclass(frozen=True, slots=True)
class UniverseInfo:
    source: str
    as_of: date | None
    size: int
    signature: str
    fetched_at: float | None
    warning: str = ""


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

    @property
    def quoted_at(self) -> float:
        """Unix seconds of the quote by the source's own clock (when momoscan fetched it only
        where the source gave no time)."""
        return float(self.quote_ts) if self.quote_ts is not None else self.fetched_at

    def age(self, now: float) -> float:
        """Seconds since the source's quote time at market-clock time `now` (never negative)."""
        return max(0.0, now - self.quoted_at)


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One underlying's options volume in the panel (or, with `grouped`, the rest together).

    `share` is of the view's total, 0..1: the fresh chains of the watch set, or all US-listed
    options volume in the whole-market view; 0 for a stale chain, which is left out of it.
    `as_of` is the source's own time (Unix seconds; Cboe's chain timestamp) and `age` its age
    in seconds by the market clock at the read; both None in the whole-market view (OCC's
    day totals have a day, not a time)."""

    underlying: str
    total: int
    calls: int
    puts: int
    share: float
    is_new: bool
    reason: str
    unusual: int  # contracts with volume far above open interest
    as_of: float | None
    age: float | None = None
    stale: bool = False  # older than the panel's limit: dimmed, not in the shares
    grouped: int = 0  # the "all others" row: how many underlyings it stands for


@dataclass(frozen=True, slots=True)
class MarketShares:
    """The whole-market view: one OCC day's every-underlying totals, the top names and the
    rest as one "all others" row, each a share of all US-listed options volume."""

    day: date
    total: int  # contracts, every underlying of the day
    underlyings: int
    rows: list[ShareRow]


@dataclass(frozen=True, slots=True)
class ContractRow:
    contract: str
    expiry: date
    days_to_expiry: int
    strike: float
    right: str
    volume: int
    open_interest: int
    vol_oi: float | None
    iv: float | None
    last: float | None
    last_trade: int | None  # Unix seconds
    pct_of_underlying: float
    unusual: bool


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    status: str
    started_at: float
    finished_at: float | None
    quotes: int
    errors: int
    credits_used: int
    message: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one screen refresh shows, read in one transaction."""

    movers: list[ScanRow]  # the top gainers
    volume: list[ScanRow]
    shares: list[ShareRow]
    options_day: date | None
    leaders: list[Leader]
    leaders_day: date | None
    universe: UniverseInfo
    last_run: RunInfo | None
    last_good_run: RunInfo | None
    fresh: int
    quoted: int
    symbol_errors: int
    read_at: float = field(default_factory=time.time)
    #: The market clock at the read (Unix seconds): quote ages are measured against it, since
    #: they come from the source's clock (the simulated market's, in demo).
    market_now: float = 0.0
    #: Quotes older than the latest session on record (halted, or not answering): not ranked.
    stale: int = 0
    #: Start (04:00 ET) of the session the ranked quotes belong to, Unix seconds.
    session_start: float | None = None
    #: Today's biggest pre-market gaps (empty once the session has opened).
    gappers: list[GapRow] = field(default_factory=list)
    losers: list[ScanRow] = field(default_factory=list)  # the biggest fallers, most first
    moves: list[ScanRow] = field(default_factory=list)  # the largest moves either way
    #: Chains older than this many seconds (market clock) are stale: dimmed, not in the shares.
    chain_max_age: float | None = None
    market: MarketShares | None = None  # the whole-market view, from OCC's newest day
    #: Each table row's sparkline, by symbol (read only when asked for: the terminal UI).
    sparks: dict[str, Spark] = field(default_factory=dict)

    def movers_by(self, mode: str) -> list[ScanRow]:
        """The movers table for `mode`: "gainers", "losers" or "moves" (either way)."""
        return {"gainers": self.movers, "losers": self.losers, "moves": self.moves}[mode]

    @property
    def fresh_shares(self) -> list[ShareRow]:
        """The watch set's chains within the age limit: what the shares are of."""
        return [s for s in self.shares if not s.stale]

    @property
    def oldest_row_age(self) -> float | None:
        """The age of the oldest quote in the tables, at the read, by the source's clock."""
        rows = self.movers + self.losers + self.volume
        if not rows:
            return None
        now = self.market_now or self.read_at
        return max(r.age(now) for r in rows)


# ---------------------------------------------------------------------------------------------
# Universe


def universe_info(store: Store) -> UniverseInfo:
    as_of = store.get_meta("universe_date")
    fetched = store.get_meta("universe_fetched_at")
    return UniverseInfo(
        source=store.get_meta("universe_source", "") or "",
        as_of=date.fromisoformat(as_of) if as_of else None,
        size=int(store.get_meta("universe_size", "0") or 0),
        signature=store.get_meta("universe_signature", "") or "",
        fetched_at=float(fetched) if fetched else None,
        warning=store.get_meta("universe_warning", "") or "",
    )


_TICKER_SELECT = "SELECT symbol, name, exchange, mic, cap_tier, sector, category FROM tickers"


def _ticker(r: dict[str, Any]) -> Ticker:
    return Ticker(
        r["symbol"],
        r["name"],
        r["exchange"] or "",
        r["mic"] or "",
        r["cap_tier"] or "",
        r["sector"] or "",
        r["category"] or "",
    )


def universe_tickers(store: Store) -> list[Ticker]:
    return [_ticker(r) for r in store.rows(f"{_TICKER_SELECT} ORDER BY symbol")]


def universe_symbol_list(store: Store) -> list[str]:
    return store.universe_symbols()


def ticker(store: Store, symbol: str) -> Ticker | None:
    rows = store.rows(f"{_TICKER_SELECT} WHERE symbol = ?", (symbol,))
    return _ticker(rows[0]) if rows else None


# ---------------------------------------------------------------------------------------------
# Movers and volume


_SCAN_SELECT = (
    "SELECT q.symbol, t.name, t.exchange, t.mic, t.cap_tier, t.category, q.price, "
    "q.change_pct, q.volume, q.avg_volume, q.rvol, q.fetched_at, q.quote_ts, q.source, "
    "q.extended, q.regular_price "
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
) -> list[ScanRow]:
    """The top `limit` by `ranking` (a key of RANKINGS), among quotes of the latest session
    (`start`; found when not given)."""
    if start is None:
        start = session_start(store)
    where, order = RANKINGS[ranking]
    marks = ",".join("?" for _ in tiers)
    rows = store.rows(
        f"{_SCAN_SELECT} "
        f"WHERE (t.cap_tier IN ({marks}) OR t.cap_tier = '' OR t.cap_tier IS NULL) "
        f"AND q.price >= ? AND {_QUOTED_AT} >= ? AND {where} "
        f"ORDER BY {order}, q.symbol LIMIT ?",
        (*tiers, min_price, start or 0.0, limit),
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
) -> list[ScanRow]:
    """The biggest gainers (% change above 0) of the latest session, within the tiers and
    above the price floor."""
    return _scan(store, "gainers", tiers, min_price, limit, start)


def top_losers(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
) -> list[ScanRow]:
    """The biggest fallers (% change below 0, most first) of the latest session."""
    return _scan(store, "losers", tiers, min_price, limit, start)


def largest_moves(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
) -> list[ScanRow]:
    """The largest moves either way (by the size of the % change) of the latest session."""
    return _scan(store, "moves", tiers, min_price, limit, start)


def top_volume(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    limit: int = TOP_N,
    *,
    start: float | None = None,
) -> list[ScanRow]:
    """The most traded by share volume in the latest session, within the tiers and above the
    price floor."""
    return _scan(store, "volume", tiers, min_price, limit, start)


def scanner_boards(
    store: Store, tiers: Sequence[str], min_price: float, now: float, limit: int = TOP_N
) -> tuple[float | None, dict[str, list[ScanRow]]]:
    """The rankings the scanner's entries are judged on (`entrants.detect`): the session's
    start (Unix seconds; None with no quotes) and the top `limit` of the largest moves either
    way ("moves") and of share volume ("volume"), within `tiers` and above `min_price`
    (dollars). `now` is the market clock (Unix seconds)."""
    start = session_start(store, now)
    if start is None:
        return None, {}
    return start, {
        board: _scan(store, board, tiers, min_price, limit, start) for board in ("moves", "volume")
    }


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


def hot_symbols(store: Store, tiers: Sequence[str], min_price: float) -> list[str]:
    """The symbols on screen now (gainers, losers, volume): refreshed first in every sweep."""
    start = session_start(store)
    rows = [
        *top_movers(store, tiers, min_price, start=start),
        *top_losers(store, tiers, min_price, start=start),
        *top_volume(store, tiers, min_price, start=start),
    ]
    return list(dict.fromkeys(r.symbol for r in rows))


# ---------------------------------------------------------------------------------------------
# Options


def latest_cboe_day(store: Store) -> date | None:
    row = store.rows("SELECT MAX(day) AS day FROM option_underlyings WHERE source = 'cboe'")
    return date.fromisoformat(row[0]["day"]) if row and row[0]["day"] else None


def option_shares(
    store: Store,
    day: date,
    *,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
    now: float | None = None,
    max_age: float | None = None,
) -> list[ShareRow]:
    """Each watched underlying's options volume on `day`, its chain's age and its share of
    the fresh chains' total, with the newest daily NEW flags and a count of unusual contracts.

    Args:
        now: the market clock (Unix seconds) the chains' own times are aged against.
        max_age: a chain older than this many seconds is stale: kept in the list (after the
            fresh ones), with a share of 0, since figures from an earlier hour are not part of
            this moment's split. None: no limit.
    """
    key = day.isoformat()
    rows = store.rows(
        "SELECT u.underlying, u.total, u.calls, u.puts, u.as_of, "
        "COALESCE(l.is_new, 0) AS is_new, COALESCE(l.reason, '') AS reason, "
        "(SELECT COUNT(*) FROM option_contracts c WHERE c.day = u.day "
        " AND c.underlying = u.underlying AND c.volume >= ? "
        " AND c.volume >= ? * c.open_interest) AS unusual "
        "FROM option_underlyings u "
        "LEFT JOIN option_leaders l ON l.underlying = u.underlying "
        " AND l.day = (SELECT MAX(day) FROM option_leaders WHERE day <= ?) "
        "WHERE u.day = ? AND u.source = 'cboe' AND u.total > 0 "
        "ORDER BY u.total DESC, u.underlying",
        (unusual_min_volume, unusual_ratio, key, key),
    )

    def age_of(r: dict[str, Any]) -> float | None:
        if now is None or r["as_of"] is None:
            return None
        return max(0.0, now - float(r["as_of"]))

    def is_stale(r: dict[str, Any]) -> bool:
        age = age_of(r)
        return max_age is not None and age is not None and age > max_age

    fresh = [r for r in rows if not is_stale(r)]
    stale = [r for r in rows if is_stale(r)]
    grand = sum(r["total"] for r in fresh) or 1
    return [
        ShareRow(
            r["underlying"],
            r["total"],
            r["calls"],
            r["puts"],
            0.0 if old else r["total"] / grand,
            bool(r["is_new"]),
            r["reason"],
            r["unusual"],
            r["as_of"],
            age=age_of(r),
            stale=old,
        )
        for group, old in ((fresh, False), (stale, True))
        for r in group
    ]


#: Names shown on their own in the whole-market view; the rest are one "all others" row.
MARKET_TOP = 20
OTHERS = "All others"


def market_shares(store: Store, top: int = MARKET_TOP) -> MarketShares | None:
    """OCC's newest day: its `top` underlyings by volume and everything else as one row, each
    a share of that day's volume in all US-listed options (ETFs and indexes included). None
    before any OCC day is stored."""
    row = store.conn.execute(
        "SELECT MAX(day) FROM option_underlyings WHERE source = 'occ'"
    ).fetchone()
    if not row or not row[0]:
        return None
    key = row[0]
    totals = store.conn.execute(
        "SELECT COALESCE(SUM(total), 0), COALESCE(SUM(calls), 0), COALESCE(SUM(puts), 0), "
        "COUNT(*) FROM option_underlyings WHERE day = ? AND source = 'occ' AND total > 0",
        (key,),
    ).fetchone()
    grand, calls, puts, count = (int(x) for x in totals)
    names = store.rows(
        "SELECT u.underlying, u.total, u.calls, u.puts, COALESCE(l.is_new, 0) AS is_new, "
        "COALESCE(l.reason, '') AS reason FROM option_underlyings u "
        "LEFT JOIN option_leaders l ON l.day = u.day AND l.underlying = u.underlying "
        "WHERE u.day = ? AND u.source = 'occ' AND u.total > 0 "
        "ORDER BY u.total DESC, u.underlying LIMIT ?",
        (key, top),
    )
    base = grand or 1
    rows = [
        ShareRow(
            r["underlying"],
            r["total"],
            r["calls"],
            r["puts"],
            r["total"] / base,
            bool(r["is_new"]),
            r["reason"],
            0,
            None,
        )
        for r in names
    ]
    rest = count - len(rows)
    if rest > 0:
        rest_total = grand - sum(r.total for r in rows)
        rows.append(
            ShareRow(
                OTHERS,
                rest_total,
                calls - sum(r.calls for r in rows),
                puts - sum(r.puts for r in rows),
                rest_total / base,
                False,
                "",
                0,
                None,
                grouped=rest,
            )
        )
    return MarketShares(date.fromisoformat(key), grand, count, rows)


def _leader(r: dict[str, object]) -> Leader:
    return Leader(
        day=date.fromisoformat(str(r["day"])),
        rank=int(r["rank"]),  # type: ignore[call-overload]
        underlying=str(r["underlying"]),
        total=int(r["total"]),  # type: ignore[call-overload]
        calls=int(r["calls"]),  # type: ignore[call-overload]
        puts=int(r["puts"]),  # type: ignore[call-overload]
        is_new=bool(r["is_new"]),
        streak=int(r["streak"]),  # type: ignore[call-overload]
        rank_change=None if r["rank_change"] is None else int(r["rank_change"]),  # type: ignore[call-overload]
        volume_ratio=None if r["volume_ratio"] is None else float(r["volume_ratio"]),  # type: ignore[arg-type]
        reason=str(r["reason"] or ""),
    )


def leaders_history(store: Store, days: int = 20) -> dict[date, list[Leader]]:
    """The daily top 10 of the newest `days` days on record, newest first."""
    wanted = store.rows(
        "SELECT DISTINCT day FROM option_leaders ORDER BY day DESC LIMIT ?", (days,)
    )
    if not wanted:
        return {}
    oldest = wanted[-1]["day"]
    out: dict[date, list[Leader]] = {}
    for r in store.rows(
        "SELECT * FROM option_leaders WHERE day >= ? ORDER BY day DESC, rank", (oldest,)
    ):
        leader = _leader(r)
        out.setdefault(leader.day, []).append(leader)
    return out


def daily_totals(store: Store, underlying: str, days: int = 40) -> list[tuple[date, int]]:
    """`underlying`'s options volume (contracts, OCC) on each of the newest `days` days on
    record, oldest first; a day it did not trade is 0."""
    wanted = store.rows(
        "SELECT DISTINCT day FROM option_underlyings WHERE source = 'occ' "
        "ORDER BY day DESC LIMIT ?",
        (days,),
    )
    if not wanted:
        return []
    totals = dict(
        store.conn.execute(
            "SELECT day, total FROM option_underlyings WHERE source = 'occ' "
            "AND underlying = ? AND day >= ?",
            (underlying, wanted[-1]["day"]),
        ).fetchall()
    )
    return [(date.fromisoformat(r["day"]), int(totals.get(r["day"], 0))) for r in reversed(wanted)]


def latest_leaders(store: Store) -> tuple[date | None, list[Leader]]:
    history = leaders_history(store, 1)
    for day, rows in history.items():
        return day, rows
    return None, []


def latest_leader_symbols(store: Store) -> list[str]:
    return [x.underlying for x in latest_leaders(store)[1]]


def contracts(
    store: Store,
    day: date,
    underlying: str,
    *,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
) -> list[ContractRow]:
    """An underlying's contracts for the day, most traded first."""
    rows = store.rows(
        "SELECT contract, expiry, strike, right, volume, open_interest, iv, last, last_trade "
        "FROM option_contracts WHERE day = ? AND underlying = ? ORDER BY volume DESC, contract",
        (day.isoformat(), underlying),
    )
    total = sum(r["volume"] for r in rows) or 1
    out = []
    for r in rows:
        expiry = date.fromisoformat(r["expiry"])
        volume, oi = r["volume"], r["open_interest"]
        vol_oi = volume / oi if oi else None
        out.append(
            ContractRow(
                contract=r["contract"],
                expiry=expiry,
                days_to_expiry=(expiry - day).days,
                strike=r["strike"],
                right=r["right"],
                volume=volume,
                open_interest=oi,
                vol_oi=vol_oi,
                iv=r["iv"],
                last=r["last"],
                last_trade=r["last_trade"],
                pct_of_underlying=volume / total,
                unusual=volume >= unusual_min_volume and (oi == 0 or volume >= unusual_ratio * oi),
            )
        )
    return out


def contract_days(store: Store) -> set[date]:
    """The days with per-contract rows on record (the retention is [options] contract_days)."""
    return {
        date.fromisoformat(row[0])
        for row in store.conn.execute("SELECT DISTINCT day FROM option_contracts")
    }


def unusual_contracts(
    store: Store,
    day: date,
    *,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
    limit: int = 25,
) -> list[dict[str, object]]:
    """The day's contracts with volume far above open interest, biggest first."""
    rows = store.rows(
        "SELECT underlying, contract, expiry, strike, right, volume, open_interest, iv, last "
        "FROM option_contracts WHERE day = ? AND volume >= ? AND volume >= ? * open_interest "
        "ORDER BY volume DESC, contract LIMIT ?",
        (day.isoformat(), unusual_min_volume, unusual_ratio, limit),
    )
    for r in rows:
        oi = r["open_interest"]
        r["vol_oi"] = round(r["volume"] / oi, 2) if oi else None
    return rows


# ---------------------------------------------------------------------------------------------
# Status


def _run(r: dict[str, object]) -> RunInfo:
    return RunInfo(
        id=int(r["id"]),  # type: ignore[call-overload]
        status=str(r["status"]),
        started_at=float(r["started_at"]),  # type: ignore[arg-type]
        finished_at=None if r["finished_at"] is None else float(r["finished_at"]),  # type: ignore[arg-type]
        quotes=int(r["quotes"] or 0),  # type: ignore[call-overload]
        errors=int(r["errors"] or 0),  # type: ignore[call-overload]
        credits_used=int(r["credits_used"] or 0),  # type: ignore[call-overload]
        message=str(r["message"] or ""),
    )


def last_runs(store: Store) -> tuple[RunInfo | None, RunInfo | None]:
    """The newest run (maybe still running) and the newest that finished well."""
    last = store.rows("SELECT * FROM refresh_runs ORDER BY id DESC LIMIT 1")
    good = store.rows(
        "SELECT * FROM refresh_runs WHERE status IN ('ok', 'partial') ORDER BY id DESC LIMIT 1"
    )
    return (_run(last[0]) if last else None, _run(good[0]) if good else None)


def snapshot(
    store: Store,
    tiers: Sequence[str],
    min_price: float,
    *,
    fresh_seconds: float = 900.0,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
    now: float | None = None,
    market_now: float | None = None,
    limit: int = TOP_N,
    chain_max_age: float | None = None,
    sparks: bool = False,
) -> Snapshot:
    """Everything a screen shows, consistent because it is read in one transaction.

    Args:
        now: the wall clock (Unix seconds), for the ages of refresh runs.
        market_now: the market clock (Unix seconds), for the ages of quotes and chains, which
            come from the source's own clock; the wall clock when not given.
        limit: rows of each table (gainers, losers, largest moves, volume).
        chain_max_age: seconds after which a chain is stale (see `option_shares`).
        sparks: also read the sparkline of every row of the tables (`sparklines`).
    """
    read_at = time.time() if now is None else now
    market = read_at if market_now is None else market_now
    with store.snapshot():
        start = session_start(store, market)
        movers = top_movers(store, tiers, min_price, limit, start=start)
        losers = top_losers(store, tiers, min_price, limit, start=start)
        moves = largest_moves(store, tiers, min_price, limit, start=start)
        volume = top_volume(store, tiers, min_price, limit, start=start)
        premarket = mh.session_at(datetime.fromtimestamp(market, mh.ET)) is Session.PRE
        gaps = gappers(store, tiers, min_price, limit, now=market) if premarket else []
        day = latest_cboe_day(store)
        shares = (
            option_shares(
                store,
                day,
                unusual_ratio=unusual_ratio,
                unusual_min_volume=unusual_min_volume,
                now=market,
                max_age=chain_max_age,
            )
            if day
            else []
        )
        whole = market_shares(store)
        leaders_day, leaders = latest_leaders(store)
        info = universe_info(store)
        last, good = last_runs(store)
        counts = store.rows(
            "SELECT COUNT(*) AS quoted, "
            f"SUM(CASE WHEN {_QUOTED_AT} >= ? AND {_QUOTED_AT} >= ? THEN 1 ELSE 0 END) AS fresh, "
            f"SUM(CASE WHEN {_QUOTED_AT} < ? THEN 1 ELSE 0 END) AS stale "
            "FROM quotes q JOIN tickers t ON t.symbol = q.symbol",
            (market - fresh_seconds, start or 0.0, start or 0.0),
        )[0]
        errors = store.rows("SELECT COUNT(*) AS n FROM symbol_errors")[0]["n"]
        lines: dict[str, Spark] = {}
        if sparks:
            shown = [r.symbol for r in (*movers, *losers, *moves, *volume)]
            shown += [g.row.symbol for g in gaps]
            lines = sparklines(store, list(dict.fromkeys(shown)), start=start)
    return Snapshot(
        movers=movers,
        volume=volume,
        shares=shares,
        options_day=day,
        leaders=leaders,
        leaders_day=leaders_day,
        universe=info,
        last_run=last,
        last_good_run=good,
        fresh=int(counts["fresh"] or 0),
        quoted=int(counts["quoted"] or 0),
        symbol_errors=int(errors),
        read_at=read_at,
        market_now=market,
        stale=int(counts["stale"] or 0),
        session_start=start,
        gappers=gaps,
        losers=losers,
        moves=moves,
        chain_max_age=chain_max_age,
        market=whole,
        sparks=lines,
    )


# ---------------------------------------------------------------------------------------------
# Intraday series (sparklines and the chart)


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


# ---------------------------------------------------------------------------------------------
# The watchlist and alerts


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
