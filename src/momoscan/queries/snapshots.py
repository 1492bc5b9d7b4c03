"""The snapshot: everything one screen refresh shows, read in one transaction, and the
refresh runs' status it carries."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from .. import market_hours as mh
from ..filings import Filing
from ..fundamentals import FloatFigure, ShortInterest, ShortVolume
from ..halts import Halt, ShortSaleRestriction
from ..lead import Lead
from ..models import DayHigh, Leader, Session
from ..store import Store
from .filings import filings_on
from .fundamentals import floats as float_figures
from .fundamentals import short_interest, short_volume
from .halts import HaltState, halt_states, market_wide_halt, restrictions_on
from .highs import day_highs
from .lead import leads as read_leads
from .options import (
    MarketShares,
    ShareRow,
    latest_cboe_day,
    latest_leaders,
    market_shares,
    option_shares,
)
from .records import MIN_SAMPLE, MOVE_PCT, signal_badges
from .scan import (
    _QUOTED_AT,
    NO_FLOAT_BOUNDS,
    TOP_N,
    FloatBounds,
    GapRow,
    ScanRow,
    gappers,
    largest_moves,
    session_start,
    top_losers,
    top_movers,
    top_volume,
)
from .series import Spark, sparklines
from .universe import UniverseInfo, universe_info


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
    #: Names halted at the read, or resumed a few minutes before it (`halt_states`).
    halts: dict[str, HaltState] = field(default_factory=dict)
    #: Rule 201 restrictions in force on the market clock's day, by symbol.
    restrictions: dict[str, ShortSaleRestriction] = field(default_factory=dict)
    #: A market-wide circuit breaker halt in force at the read.
    market_halt: Halt | None = None
    #: Today's highs of the day, by symbol (only names that made one: `day_highs`).
    highs: dict[str, DayHigh] = field(default_factory=dict)
    #: The trading day's SEC filings on universe names, by symbol, newest first.
    filings: dict[str, list[Filing]] = field(default_factory=dict)
    #: The float figures, the latest short interest and short sale volume of the names in the
    #: tables, by symbol (names without a figure are absent).
    floats: dict[str, FloatFigure] = field(default_factory=dict)
    short_interest: dict[str, ShortInterest] = field(default_factory=dict)
    short_volume: dict[str, ShortVolume] = field(default_factory=dict)
    #: Today's signals' track-record badges, (kind, symbol) -> "NEW · 9/21 ≥5% by close"
    #: (`queries.records.signal_badges`; none below the minimum sample).
    badges: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Today's options-led or price-led names (`queries.lead.leads`), by symbol.
    leads: dict[str, Lead] = field(default_factory=dict)

    def symbol_badges(self, symbol: str) -> list[str]:
        """`symbol`'s badges of today's signals, in kind order."""
        return [b for (_, s), b in sorted(self.badges.items()) if s == symbol]

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
    floats: FloatBounds = NO_FLOAT_BOUNDS,
    move_pct: float = MOVE_PCT,
    min_sample: int = MIN_SAMPLE,
) -> Snapshot:
    """Everything a screen shows, consistent because it is read in one transaction.

    Args:
        now: the wall clock (Unix seconds), for the ages of refresh runs.
        market_now: the market clock (Unix seconds), for the ages of quotes and chains, which
            come from the source's own clock; the wall clock when not given.
        limit: rows of each table (gainers, losers, largest moves, volume).
        chain_max_age: seconds after which a chain is stale (see `option_shares`).
        sparks: also read the sparkline of every row of the tables (`sparklines`).
        floats: the tables' float bounds (shares; `[scan] min_float`, `max_float`).
        move_pct, min_sample: the badges' hit threshold (percent) and minimum sample
            (`[record]`).
    """
    read_at = time.time() if now is None else now
    market = read_at if market_now is None else market_now
    with store.snapshot():
        start = session_start(store, market)
        movers = top_movers(store, tiers, min_price, limit, start=start, floats=floats)
        losers = top_losers(store, tiers, min_price, limit, start=start, floats=floats)
        moves = largest_moves(store, tiers, min_price, limit, start=start, floats=floats)
        volume = top_volume(store, tiers, min_price, limit, start=start, floats=floats)
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
        halts = halt_states(store, market)
        today = datetime.fromtimestamp(market, mh.ET).date()
        restrictions = restrictions_on(store, today)
        market_halt = market_wide_halt(store, market)
        highs = {s: h for s, h in day_highs(store, today).items() if h.count > 0}
        shown = [r.symbol for r in (*movers, *losers, *moves, *volume)]
        shown = list(dict.fromkeys([*shown, *(g.row.symbol for g in gaps)]))
        lines: dict[str, Spark] = {}
        if sparks:
            lines = sparklines(store, shown, start=start)
        day_filings = filings_on(store, today)
        figures = float_figures(store, shown)
        interest = short_interest(store, shown)
        short_sales = short_volume(store, shown)
        badges = signal_badges(store, today, move_pct=move_pct, min_sample=min_sample)
        day_leads = read_leads(store, today)
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
        halts=halts,
        restrictions=restrictions,
        market_halt=market_halt,
        highs=highs,
        filings=day_filings,
        floats=figures,
        short_interest=interest,
        short_volume=short_sales,
        badges=badges,
        leads=day_leads,
    )
