"""Signals' track records (signals.py): each kind's figures over the user's history, and the
badges the screens show beside today's signals."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from ..signals import (
    EXTREMES,
    HORIZONS,
    MEASURED,
    PENDING,
    SIGNAL_KINDS,
    UNMEASURED,
    Record,
    Signal,
    badge,
    horizon_stats,
    kind_of_event,
)
from ..store import Store

#: Defaults of `[record]`: a hit is a move of at least this percent by the close, and no
#: badge is shown below this many measured signals.
MOVE_PCT = 5.0
MIN_SAMPLE = 10


def records(
    store: Store,
    *,
    move_pct: float = MOVE_PCT,
    since: date | None = None,
    kinds: frozenset[str] | None = None,
) -> dict[str, Record]:
    """Every signal kind's record (by kind: `SIGNAL_KINDS`' order, then the rules'), over
    the signals since `since` (a trading day, all when None). Only measured horizons
    count; `Record.count` and its figures are the close's."""
    params: list[object] = []
    where = ""
    if since is not None:
        where = "WHERE s.day >= ?"
        params.append(since.isoformat())
    totals: dict[str, int] = defaultdict(int)
    for kind, n in store.conn.execute(
        f"SELECT s.kind, count(*) FROM signals s {where} GROUP BY s.kind", params
    ):
        totals[str(kind)] = int(n)
    moves: dict[tuple[str, str], list[float]] = defaultdict(list)
    states: dict[tuple[str, str], int] = defaultdict(int)
    for kind, horizon, status, move in store.conn.execute(
        "SELECT s.kind, o.horizon, o.status, o.move_pct FROM signals s "
        f"JOIN signal_outcomes o ON o.signal_id = s.id {where}",
        params,
    ):
        if status == MEASURED and move is not None:
            moves[(kind, horizon)].append(float(move))
        elif horizon == "close":
            states[(kind, status)] += 1
    out: dict[str, Record] = {}
    order = list(SIGNAL_KINDS)
    for kind in sorted(totals, key=lambda k: (order.index(k) if k in order else len(order), k)):
        if kinds is not None and kind not in kinds:
            continue
        stats = {
            h: horizon_stats(h, moves.get((kind, h), []), move_pct) for h in (*HORIZONS, *EXTREMES)
        }
        close = stats["close"]
        # Signals with no close outcome yet (the job has not looked) are pending too.
        measured_or_told = close.count + states[(kind, UNMEASURED)] + states[(kind, PENDING)]
        out[kind] = Record(
            kind=kind,
            move_pct=move_pct,
            count=close.count,
            hits=close.hits,
            median=close.median,
            worst=close.worst,
            signals=totals[kind],
            unmeasured=states[(kind, UNMEASURED)],
            pending=states[(kind, PENDING)] + max(0, totals[kind] - measured_or_told),
            moves=tuple(sorted(moves.get((kind, "close"), []))),
            horizons=stats,
        )
    return out


def signals_on(store: Store, day: date) -> list[Signal]:
    """The signals stored for trading day `day`, newest first."""
    return store.signals_of_day(day)


def signal_badges(
    store: Store,
    day: date,
    *,
    move_pct: float = MOVE_PCT,
    min_sample: int = MIN_SAMPLE,
) -> dict[tuple[str, str], str]:
    """(kind, symbol) -> badge ("NEW · 9/21 ≥5% by close") for the signals of trading day
    `day`: those the outcome job stored and the alert events of the day it has not looked
    at yet (an alert's kind: `signals.kind_of_event`). Kinds below `min_sample` measured
    signals have none."""
    wanted: set[tuple[str, str]] = {
        (str(k), str(s))
        for k, s in store.conn.execute(
            "SELECT kind, symbol FROM signals WHERE day = ?", (day.isoformat(),)
        )
    }
    for rule, name, symbol in store.conn.execute(
        "SELECT rule, name, symbol FROM alert_events WHERE day = ?", (day.isoformat(),)
    ):
        wanted.add((kind_of_event(str(rule), str(name)), str(symbol)))
    if not wanted:
        return {}
    found = records(store, move_pct=move_pct, kinds=frozenset(k for k, _ in wanted))
    out = {}
    for kind, symbol in wanted:
        text = badge(found.get(kind), min_sample)
        if text is not None:
            out[(kind, symbol)] = text
    return out
