"""The daily options top 10 and its new entrants, from per-underlying daily volumes.

Pure functions over `{day: {underlying: (total, calls, puts)}}`, so the rules can be tested on
hand-built histories:

- Rank by total contracts, ties broken alphabetically (a stable, explainable order).
- NEW: in the day's top 10 and in none of the top 10s of the previous `lookback` trading days
  that are on record. With no previous day on record nothing is NEW: there is nothing to be new
  against.
- Streak: days in a row in the top 10 up to this one, counting only days on record (a day whose
  file never arrived neither breaks nor extends a streak).
- Rank change: yesterday's rank minus today's (positive = climbed), None if not ranked yesterday.
- Volume ratio: today's volume over its own average across the previous days on record (a day
  it did not trade counts as zero).
"""

from __future__ import annotations

import dataclasses
import heapq
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from . import market_hours as mh
from .models import Leader

Volumes = Mapping[str, tuple[int, int, int]]
TOP_N = 10


def top_n(volumes: Volumes, n: int = TOP_N) -> list[str]:
    """The `n` biggest by total, ties alphabetical (a day has thousands: no full sort)."""
    return [u for u, _ in heapq.nsmallest(n, volumes.items(), key=lambda kv: (-kv[1][0], kv[0]))]


def compute_leaders(
    day: date,
    history: Mapping[date, Volumes],
    window: Sequence[date],
    *,
    n: int = TOP_N,
) -> list[Leader]:
    """The top `n` of `day` with NEW flags, streaks, rank changes and volume ratios.

    Args:
        history: volumes by day; must hold `day`, may lack any day of `window`.
        window: the trading days before `day` to compare against, oldest first (calendar days,
            so that a missing file shows as a gap rather than silently shortening the window).
    """
    today = history[day]
    ranked = top_n(today, n)
    observed = [d for d in window if d in history]
    top_sets = {d: top_n(history[d], n) for d in observed}
    previous = observed[-1] if observed else None
    prev_rank = {u: i + 1 for i, u in enumerate(top_sets[previous])} if previous else {}
    leaders: list[Leader] = []
    for rank, underlying in enumerate(ranked, start=1):
        total, calls, puts = today[underlying]
        seen_before = any(underlying in top_sets[d] for d in observed)
        is_new = bool(observed) and not seen_before
        streak = 1
        for d in reversed(observed):
            if underlying not in top_sets[d]:
                break
            streak += 1
        ratio = None
        if observed:
            average = sum(history[d].get(underlying, (0, 0, 0))[0] for d in observed) / len(
                observed
            )
            ratio = round(total / average, 2) if average > 0 else None
        reason = ""
        if is_new:
            span = (
                f"{len(window)} days"
                if len(observed) == len(window)
                else f"the {len(observed)} days on record"
            )
            reason = f"first time in the top {n} in {span}"
            if ratio is not None:
                reason += f"; volume {ratio:.1f}x its {len(observed)}-day average"
            elif observed:
                reason += "; no options volume on record before"
        leaders.append(
            Leader(
                day=day,
                rank=rank,
                underlying=underlying,
                total=total,
                calls=calls,
                puts=puts,
                is_new=is_new,
                streak=streak,
                rank_change=(prev_rank[underlying] - rank) if underlying in prev_rank else None,
                volume_ratio=ratio,
                reason=reason,
            )
        )
    return leaders


def filter_volumes(
    volumes: Volumes, *, exclude: frozenset[str] = frozenset(), only: frozenset[str] | None = None
) -> dict[str, tuple[int, int, int]]:
    """Drop excluded underlyings (ETFs, indexes) and, if `only` is given, keep just those."""
    return {u: v for u, v in volumes.items() if u not in exclude and (only is None or u in only)}


#: Leaders need this many earlier days on record before anything is called NEW.
MIN_HISTORY_FOR_NEW = 5


def daily_volumes(
    conn: sqlite3.Connection, days: Sequence[date], source: str = "occ"
) -> dict[date, dict[str, tuple[int, int, int]]]:
    """{day: {underlying: (total, calls, puts)}}, in contracts, of the given days that have
    data in the store's `option_underlyings` (the store's reader and the worker's share it)."""
    out: dict[date, dict[str, tuple[int, int, int]]] = {}
    for day in days:
        rows = conn.execute(
            "SELECT underlying, total, calls, puts FROM option_underlyings "
            "WHERE day = ? AND source = ?",
            (day.isoformat(), source),
        ).fetchall()
        if rows:
            out[day] = {u: (t, c, p) for u, t, c, p in rows}
    return out


def rank_stored_days(
    db_path: Path,
    days: Sequence[date],
    span: Sequence[date],
    exclude: frozenset[str],
    only: frozenset[str] | None,
    lookback: int,
) -> dict[date, list[Leader]] | None:
    """`rank_days` of OCC's volumes for `span` as stored in the database at `db_path`, read
    there (read-only): for the worker process, so that 100,000 day-underlying volumes are
    neither read nor pickled in the app's process, whose event loop would wait on the GIL
    (pickling them alone held it 36 ms). None when none of `span` is stored."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        history = daily_volumes(conn, span, "occ")
    finally:
        conn.close()
    if not history:
        return None
    return rank_days(days, history, exclude, only, lookback)


def rank_days(
    days: Sequence[date],
    history: dict[date, dict[str, tuple[int, int, int]]],
    exclude: frozenset[str],
    only: frozenset[str] | None,
    lookback: int,
) -> dict[date, list[Leader]]:
    """Each of `days`' top 10 from `history` ({day: {underlying: (total, calls, puts)}}, in
    contracts), each compared with its `lookback` trading days before; NEW only once at least
    MIN_HISTORY_FOR_NEW of those are on record. Thousands of underlyings a day: the engine runs
    it in a worker process, which therefore imports this module only (no store, no Rich)."""
    filtered = {d: filter_volumes(v, exclude=exclude, only=only) for d, v in history.items()}
    out: dict[date, list[Leader]] = {}
    for day in days:
        if day not in filtered:
            continue
        window = mh.trading_days_before(day, lookback)
        leaders = compute_leaders(day, filtered, window)
        if sum(1 for d in window if d in filtered) < MIN_HISTORY_FOR_NEW:
            leaders = [dataclasses.replace(x, is_new=False, reason="") for x in leaders]
        out[day] = leaders
    return out
