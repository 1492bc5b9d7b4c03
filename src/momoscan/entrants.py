"""The scanner's own signals: a name entering the top 10 of the movers or of volume, and a new
entrant to the daily options top 10. Computed from the rankings the store holds, never from
what a screen shows: the same at any terminal size or zoom, in the TUI, headless and serve.

- **Boards.** "Top movers" ranks the largest moves either way (% change against the previous
  close, up or down: a gainers-only or losers-only view is a way of looking at it) and "Top
  volume" the shares traded, both within the configured cap tiers and above the price floor,
  among quotes of the latest session (`queries.scanner_boards`).
- **Entering.** A name enters a board when it is in the top `TOP_N` now and was not at the
  previous look. The previous look is kept in the database (`meta`), so a cron `--once` run
  compares with the run before it, and two processes on one database never announce the same
  entry twice (the look, the comparison and the record are one transaction).
- **No phantom entries.** There is nothing to compare with, so nothing fires, when the previous
  look is of another session, older than `BASELINE_MAX_AGE` (an app restarted hours later
  would otherwise announce every name that moved in between), from a later time (the demo's
  clock started again), or ranked fewer than `COVERAGE_FLOOR` of the names the new look ranks
  (a run that quoted 55 of 546 names would make the other 491 "enter"). A name whose first
  sample of the session momoscan is still in (it has one stored sample of the session: its
  rank before was unknown, not low) does not enter either: in a live run's first sweep every
  batch would otherwise "enter" names that were up there all along.
- **Once per crossing.** A name announced for a board is not announced for it again within
  `REANNOUNCE_AFTER`: a name hovering at #10 while its neighbours move past it, in and out,
  at an unchanged price, is one entry, not one a minute.
- **Options top 10.** Each NEW entrant of the newest daily leaders (OCC) is announced once a
  day per database.

Every announcement is stored in `alert_events` under the rule `SCANNER`, beside the rules'
alerts. Stdlib, the store and queries only: no Textual (the headless path runs this).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import format as fmt
from . import market_hours as mh
from . import queries
from .models import AlertEvent
from .queries import TOP_N, ScanRow
from .queries.scan import NO_FLOAT_BOUNDS, FloatBounds
from .store import Store

#: The `rule` of the scanner's own alerts in `alert_events` (the rules' are their keys).
SCANNER = "scanner"
#: The boards and their alerts' names.
BOARDS = {"moves": "Top movers", "volume": "Top volume"}
OPTIONS = "Options top 10"
#: A previous look older than this (market-clock seconds) is not compared with: it sets a
#: new baseline instead.
BASELINE_MAX_AGE = 900.0
#: A baseline must have ranked at least this share of the names the new look ranks.
COVERAGE_FLOOR = 0.9
#: A name announced for a board is not announced for it again within this (market-clock
#: seconds).
REANNOUNCE_AFTER = 1800.0
_BOARDS_KEY = "scanner_boards"
_LEADERS_KEY = "scanner_leaders"


def _message(board: str, row: ScanRow, rank: int) -> str:
    if board == "volume":
        return (
            f"{row.symbol} entered the top volume (#{rank}): {fmt.count(row.volume)} shares, "
            f"{fmt.pct(row.change_pct)} at {fmt.price(row.price)}, RVol {fmt.ratio(row.rvol)}"
        )
    return (
        f"{row.symbol} entered the top movers (#{rank}): {fmt.pct(row.change_pct)} at "
        f"{fmt.price(row.price)}, RVol {fmt.ratio(row.rvol)}"
    )


def _row(event: AlertEvent) -> tuple[str, str, str, str, float, str, object, object, object, None]:
    return (
        event.day.isoformat(),
        event.rule,
        event.name,
        event.symbol,
        event.at,
        event.message,
        event.price,
        event.change_pct,
        event.rvol,
        None,
    )


def detect(
    store: Store,
    *,
    tiers: Sequence[str],
    min_price: float,
    now: float,
    floats: FloatBounds = NO_FLOAT_BOUNDS,
) -> list[AlertEvent]:
    """Look at the boards and the newest daily leaders, announce what entered since the last
    look, and record the look; in one transaction. Runs on the store's thread.

    Args:
        tiers: the cap tiers of the scan (`[universe] cap_tiers`), not a screen's filter.
        min_price: the price floor (dollars).
        floats: the float bounds (shares; `[scan] min_float`, `max_float`).
        now: the market clock (Unix seconds): the events' time and trading day.

    Returns:
        The entries, board by board in rank order, then the options entrants.
    """
    day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
    events: list[AlertEvent] = []
    with store.transaction():
        start, boards = queries.scanner_boards(store, tiers, min_price, now, TOP_N, floats)
        # A halted name is no mover on its pre-halt price: it neither enters nor counts as
        # on a board while halted (so it can enter once it trades again).
        halted = {s for s, h in queries.halt_states(store, now).items() if h.halted}
        if halted:
            boards = {b: [r for r in rows if r.symbol not in halted] for b, rows in boards.items()}
        before = _load(store.get_meta(_BOARDS_KEY))
        covered = queries.session_coverage(store, tiers, start) if start is not None else 0
        comparable = (
            start is not None
            and before.get("start") == start
            # A look that ranked far fewer names (a sweep cut short, a demo restarted at an
            # earlier time) is no baseline: every name it missed would "enter" now.
            and int(before.get("covered", covered)) >= COVERAGE_FLOOR * covered
            and list(before.get("tiers", [])) == list(tiers)
            and before.get("min_price") == min_price
            and list(before.get("floats", [None, None])) == list(floats)
            and 0 <= now - float(before.get("at", -1e18)) <= BASELINE_MAX_AGE
        )
        if comparable and start is not None:
            tops: dict[str, list[str]] = before.get("tops", {})
            candidates = {
                board: [
                    (rank, r)
                    for rank, r in enumerate(rows, 1)
                    if r.symbol not in tops.get(board, [])
                ]
                for board, rows in boards.items()
                if board in tops
            }
            symbols = sorted({r.symbol for found in candidates.values() for _, r in found})
            known = queries.sampled_before(store, symbols, start) if symbols else set()
            recent = (
                queries.announced_since(store, SCANNER, now - REANNOUNCE_AFTER)
                if symbols
                else set()
            )
            for board, found in candidates.items():
                for rank, r in found:
                    if r.symbol not in known or (BOARDS[board], r.symbol) in recent:
                        continue
                    events.append(
                        AlertEvent(
                            rule=SCANNER,
                            name=BOARDS[board],
                            symbol=r.symbol,
                            message=_message(board, r, rank),
                            at=now,
                            day=day,
                            price=r.price,
                            change_pct=r.change_pct,
                            rvol=r.rvol,
                        )
                    )
        if start is not None:
            store.put_meta(
                _BOARDS_KEY,
                json.dumps(
                    {
                        "start": start,
                        "at": now,
                        "tiers": list(tiers),
                        "min_price": min_price,
                        "floats": list(floats),
                        "covered": covered,
                        "tops": {b: [r.symbol for r in rows] for b, rows in boards.items()},
                    }
                ),
            )
        events.extend(_options_entrants(store, now))
        if events:
            store.record_events([_row(e) for e in events])
    return events


def _options_entrants(store: Store, now: float) -> list[AlertEvent]:
    """The newest daily leaders' NEW entrants not announced yet (once a day per database)."""
    leaders_day, leaders = queries.latest_leaders(store)
    fresh = [x for x in leaders if x.is_new]
    if leaders_day is None or not fresh:
        return []
    announced = _load(store.get_meta(_LEADERS_KEY))
    key = leaders_day.isoformat()
    already = set(announced.get(key, []))
    new = [x for x in fresh if x.underlying not in already]
    if not new:
        return []
    store.put_meta(_LEADERS_KEY, json.dumps({key: sorted(already | {x.underlying for x in new})}))
    day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
    return [
        AlertEvent(
            rule=SCANNER,
            name=OPTIONS,
            symbol=x.underlying,
            message=(
                f"{x.underlying} is new in the daily options top 10 ({leaders_day}, "
                f"#{x.rank}): {x.reason}"
            ),
            at=now,
            day=day,
        )
        for x in new
    ]


def _load(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
