"""Read queries over the store: what the screens and the headless output show.

Each function takes a `Store` first, so it runs the same on the engine's store thread
(`StoreThread.call(fn, ...)`) and on a reader's own connection.

By topic (every public name is re-exported here, so `queries.snapshot(...)` and
`from momoscan.queries import ScanRow` read as before):

- `universe`: the universe's provenance and its tickers.
- `scan`: the scan tables (gainers, losers, largest moves, volume, pre-market gappers) and
  the latest session's start they are ranked within.
- `entrants`: what the scanner's entries are judged on.
- `planning`: what the engine reads to plan its work (sweep state, stream candidates,
  volatility, options signals, the hot set).
- `options`: options volume shares, the whole-market view, the daily top 10, contracts.
- `series`: intraday series for the chart and the sparklines.
- `watchlist`: the watchlist's rows.
- `alerts`: what alert rules observe, and what fired.
- `halts`: who is halted or just resumed, the day's halts, Rule 201 restrictions in force, a
  market-wide circuit breaker.
- `highs`: each name's high of the day and its count of new highs.
- `filings`: SEC filings by universe symbol (a day's, or since a moment) and symbol -> CIK.
- `fundamentals`: float (with its as-of date and basis), short interest (latest settlement)
  and short sale volume (latest trade date) per symbol (read as `queries.fundamentals.floats`).
- `records`: signals' track records by kind (`queries.records.records`) and the badges of a
  day's signals (`signal_badges`).
- `signals`: what the outcome job derives signals from and measures them on.
- `snapshots`: `Snapshot`, everything one screen refresh shows, read in one transaction.
"""

from __future__ import annotations

from .alerts import Observation, alert_observations, alerts_after, alerts_on, last_alert_id
from .entrants import announced_since, sampled_before, scanner_boards, session_coverage
from .filings import cik_map, filings_on, recent_filings
from .halts import (
    RECENT_RESUME,
    HaltState,
    halt_states,
    halts_on,
    halts_polled_at,
    market_wide_halt,
    restrictions_on,
)
from .highs import day_highs
from .options import (
    MARKET_TOP,
    OTHERS,
    ContractRow,
    MarketShares,
    ShareRow,
    contract_days,
    contracts,
    daily_totals,
    latest_cboe_day,
    latest_leader_symbols,
    latest_leaders,
    leaders_history,
    market_shares,
    option_shares,
    unusual_contracts,
)
from .planning import (
    OptionsSignal,
    SweepRow,
    hot_symbols,
    mover_symbols,
    options_signals,
    previous_closes,
    realised_variance,
    stream_candidates,
    sweep_state,
)
from .records import signal_badges, signals_on
from .scan import (
    RANKINGS,
    TOP_N,
    GapRow,
    ScanRow,
    gappers,
    largest_moves,
    scan_row,
    session_start,
    top_losers,
    top_movers,
    top_volume,
)
from .series import Series, Spark, intraday_series, sparklines
from .snapshots import RunInfo, Snapshot, last_runs, snapshot
from .universe import UniverseInfo, ticker, universe_info, universe_symbol_list, universe_tickers
from .watchlist import WatchRow, watchlist_rows

__all__ = [
    "MARKET_TOP",
    "OTHERS",
    "RANKINGS",
    "RECENT_RESUME",
    "TOP_N",
    "ContractRow",
    "GapRow",
    "HaltState",
    "MarketShares",
    "Observation",
    "OptionsSignal",
    "RunInfo",
    "ScanRow",
    "Series",
    "ShareRow",
    "Snapshot",
    "Spark",
    "SweepRow",
    "UniverseInfo",
    "WatchRow",
    "alert_observations",
    "alerts_after",
    "alerts_on",
    "announced_since",
    "cik_map",
    "contract_days",
    "contracts",
    "daily_totals",
    "day_highs",
    "filings_on",
    "gappers",
    "halt_states",
    "halts_on",
    "halts_polled_at",
    "hot_symbols",
    "intraday_series",
    "largest_moves",
    "last_alert_id",
    "last_runs",
    "latest_cboe_day",
    "latest_leader_symbols",
    "latest_leaders",
    "leaders_history",
    "market_shares",
    "market_wide_halt",
    "mover_symbols",
    "option_shares",
    "options_signals",
    "previous_closes",
    "realised_variance",
    "recent_filings",
    "restrictions_on",
    "sampled_before",
    "scan_row",
    "scanner_boards",
    "session_coverage",
    "session_start",
    "signal_badges",
    "signals_on",
    "snapshot",
    "sparklines",
    "stream_candidates",
    "sweep_state",
    "ticker",
    "top_losers",
    "top_movers",
    "top_volume",
    "universe_info",
    "universe_symbol_list",
    "universe_tickers",
    "unusual_contracts",
    "watchlist_rows",
]
