"""Signals' records against the simulated market's truth (issue 28 item 4): does momoscan
measure what followed each signal as it happened, and are the records it shows the true rates?

Each session: the real engine in demo (`open_runtime`, the market in this process, as
bench/detect.py runs it) on a fresh database, so the demo's past is written (a simulated month
before the day: `momoscan.simulated.past`) and measured, then one `refresh(full=False)` a
simulated minute from `--start` to `--end` (the collector's outcome job measuring the day's
own signals as it goes). Then every measured outcome is graded against the truth, the minute
paths of the simulated market (`SimMarket.day_for` for the day, `PastTruth.paths` for the
past, never seen by the engine):

- **Outcomes.** A measured move to +15 min, +1 h, the close or the next close is right when
  it lies within the true path's moves (from the signal's price, in its direction) over one
  quote interval (5 minutes, the stored prices' bucket) either side of the horizon's time:
  the store keeps one price per 5-minute bucket, so that is the resolution it can have.
- **Records.** Each kind's record (`queries.records.records`: the share of measured signals
  that moved >= 5 % their way by the close) beside the true share of the same signals
  (their true path at the close) and, for NEW options entrants, beside the past's planted
  rate (`past.NEW_RUN_RATE`).

    .venv/bin/python bench/record.py                 # 3 sessions (seeds 7, 11, 13), 630 names
    .venv/bin/python bench/record.py --json
    .venv/bin/python bench/record.py --quick         # one short session (CI smoke)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import orjson

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.queries.records import records
from momoscan.runtime import RunOptions, open_runtime
from momoscan.signals import MEASURED
from momoscan.simulated.market import SimMarket
from momoscan.simulated.past import NEW_RUN_RATE, SOURCE, PastTruth, make_past
from momoscan.store import Store

DAY = date(2026, 11, 20)
SEEDS = (7, 11, 13)
MOVE_PCT = 5.0
#: One quote interval either side of a horizon (minutes): the stored prices' bucket.
TOLERANCE_MIN = 5
HORIZON_MIN = {"15m": 15, "1h": 60}
#: Percentage points a measured move may differ from the truth by rounding alone.
ROUNDING = 0.01


class FakeTime:
    """The wall clock credits are counted on: it moves only when the credit budget waits."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.sleep(0)


@dataclass
class Grades:
    """Outcomes graded, by (kind, horizon): [right, graded]; records by kind: (measured
    count, hits momoscan counted, hits by the truth); the past's NEW options entrants."""

    outcomes: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    records: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    wrong: list[str] = field(default_factory=list)
    new_planted: int = 0
    new_signals: int = 0
    seconds: float = 0.0
    past_seconds: float = 0.0
    sessions: int = 0


def _minute(day: date, at: float) -> int:
    base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
    return int((at - base.timestamp()) // 60)


def _close_minute(day: date) -> int:
    base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
    return int((mh.session_bounds(day)[2] - base).total_seconds() // 60)


def _true_range(
    path: np.ndarray, minute: int, lo: int, hi: int, price: float, way: int
) -> tuple[float, float]:
    """The true directed moves (percent) from `price` over minutes [minute - tolerance,
    minute + tolerance] clipped to [lo, hi)."""
    a = max(lo, minute - TOLERANCE_MIN)
    b = min(hi - 1, minute + TOLERANCE_MIN)
    seg = path[a : b + 1].astype(np.float64)
    moves = (seg - price) / price * 100.0 * way
    return float(moves.min()), float(moves.max())


def grade(
    store: Store, paths: dict[tuple[date, str], np.ndarray], grades: Grades, now: float
) -> None:
    """Grade every measured outcome whose signal's truth is in `paths`."""
    rows = store.conn.execute(
        "SELECT s.kind, s.symbol, s.day, s.at, s.price, s.direction, o.horizon, o.move_pct "
        "FROM signals s JOIN signal_outcomes o ON o.signal_id = s.id "
        "WHERE o.status = ? AND o.horizon IN ('15m', '1h', 'close', 'next_close')",
        (MEASURED,),
    ).fetchall()
    truth_hits: dict[tuple[str, str, float], bool] = {}
    for kind, symbol, key, at, price, way, horizon, move in rows:
        day = date.fromisoformat(key)
        if horizon == "next_close":
            day = mh.next_trading_day(day)
        path = paths.get((day, symbol))
        if path is None or price is None:
            continue
        close = _close_minute(day)
        minute = _minute(day, at) + HORIZON_MIN[horizon] if horizon in HORIZON_MIN else close - 1
        lo, hi = _true_range(path, minute, 330, close, float(price), int(way))
        # The store rounds a move to 0.01 point and prices are float32: that much either way.
        right = lo - ROUNDING <= float(move) <= hi + ROUNDING
        cell = grades.outcomes[(kind, horizon)]
        cell[0] += right
        cell[1] += 1
        if not right and len(grades.wrong) < 20:
            grades.wrong.append(
                f"{kind} {symbol} {key} {horizon}: {move:+.2f}% vs {lo:+.2f}..{hi:+.2f}%"
            )
        if horizon == "close":
            true_move = (float(path[close - 1]) - price) / price * 100.0 * way
            truth_hits[(kind, symbol, at)] = true_move >= MOVE_PCT
    shown = records(store, move_pct=MOVE_PCT)
    for kind, record in shown.items():
        cell = grades.records[kind]
        cell[0] += record.count
        cell[1] += record.hits
        cell[2] += sum(1 for (k, _, _), hit in truth_hits.items() if k == kind and hit)


async def run_session(
    seed: int, *, size: int, day: date, start: dtime, end: dtime, grades: Grades
) -> None:
    """One session: the past written and measured, the day refreshed a minute at a time."""
    began = time.perf_counter()
    settings = Settings()
    settings.demo.size = size
    settings.demo.seed = seed
    settings.twelvedata.concurrency = 1
    # The day's quotes only: the past brings the options signals (OCC days, chains and SEC
    # filings would take most of each cycle and add nothing graded here).
    settings.options.enabled = False
    fake = FakeTime(1_800_000_000.0)
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(
            db=str(Path(tmp) / "record.db"),
            demo_start=datetime.combine(day, start, tzinfo=mh.ET),
            demo_latency=0.0,
            demo_in_process=True,
            offload_processes=False,
            credit_clock=fake,
            credit_sleep=fake.sleep,
        )
        async with open_runtime(settings, options) as rt:
            clock = rt.clock
            assert isinstance(clock, FixedClock) and isinstance(rt.market, SimMarket)
            market = rt.market
            warm = await rt.engine.refresh(full=True)
            assert warm.status in ("ok", "partial"), warm.lines()
            t0 = time.perf_counter()
            await rt.seed_demo_past()
            grades.past_seconds += time.perf_counter() - t0
            closes = datetime.combine(day, end, tzinfo=mh.ET)
            while clock.now() < closes:
                clock.advance(60)
                await rt.engine.refresh(full=False)
            truth = PastTruth()
            universe = settings.universe
            make_past(market, universe.cap_tiers, universe.min_price, truth=truth)
            sim = market.day_for(day)
            paths = dict(truth.paths)
            for i, s in enumerate(market.stocks):
                paths[(day, s.symbol)] = sim.price[i]
            with Store(rt.db_path) as store:
                grade(store, paths, grades, clock.now().timestamp())
                news = store.conn.execute(
                    "SELECT day, symbol FROM signals WHERE kind = 'options_new' AND source = ?",
                    (SOURCE,),
                ).fetchall()
            grades.new_signals += len(news)
            grades.new_planted += sum(
                1 for key, symbol in news if (date.fromisoformat(key), symbol) in truth.new_runs
            )
    grades.sessions += 1
    grades.seconds += time.perf_counter() - began


def to_json(grades: Grades, meta: dict[str, Any]) -> dict[str, Any]:
    outcomes = {
        f"{kind} {horizon}": {"right": right, "graded": graded}
        for (kind, horizon), (right, graded) in sorted(grades.outcomes.items())
    }
    right = sum(r for r, _ in grades.outcomes.values())
    graded = sum(g for _, g in grades.outcomes.values())
    recs = {
        kind: {
            "measured": n,
            "record_pct": round(100.0 * hits / n, 1) if n else None,
            "true_pct": round(100.0 * truth / n, 1) if n else None,
        }
        for kind, (n, hits, truth) in sorted(grades.records.items())
    }
    return {
        **meta,
        "outcomes_right": right,
        "outcomes_graded": graded,
        "outcomes": outcomes,
        "records": recs,
        "new_entrants": {
            "planted_rate_pct": NEW_RUN_RATE * 100,
            "signals": grades.new_signals,
            "planted_runs": grades.new_planted,
        },
        "wrong": grades.wrong,
        "past_seconds": round(grades.past_seconds / max(1, grades.sessions), 2),
        "seconds": round(grades.seconds, 1),
    }


def print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"Records against the truth: {doc['sessions']} sessions, {doc['size']} names"
    )
    for column in ("kind", "measured", "record ≥5% by close", "true ≥5% by close"):
        table.add_column(column, justify="right")
    for kind, r in doc["records"].items():
        rec = "-" if r["record_pct"] is None else f"{r['record_pct']:.1f}%"
        tru = "-" if r["true_pct"] is None else f"{r['true_pct']:.1f}%"
        table.add_row(kind, str(r["measured"]), rec, tru)
    console.print(table)
    new = doc["new_entrants"]
    console.print(
        f"NEW options entrants of the past: {new['signals']}, planted runs {new['planted_runs']} "
        f"(planted rate {new['planted_rate_pct']:.0f}%)"
    )
    console.print(
        f"Outcomes within one quote interval of the truth: {doc['outcomes_right']}/"
        f"{doc['outcomes_graded']}; the past made and written in {doc['past_seconds']} s a "
        f"session; {doc['seconds']} s in all"
    )
    for line in doc["wrong"]:
        console.print(f"  wrong: {line}", markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="one session, 09:35-09:50")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--size", type=int, default=0, help="0: the ~630 built-in names")
    parser.add_argument("--date", default=DAY.isoformat())
    parser.add_argument("--start", default="09:35")
    parser.add_argument("--end", default="16:05")
    args = parser.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",") if x]
    end = args.end
    if args.quick:
        seeds, end = seeds[:1], "09:50"
    day = date.fromisoformat(args.date)
    grades = Grades()
    began = time.perf_counter()
    for seed in seeds:
        asyncio.run(
            run_session(
                seed,
                size=args.size,
                day=day,
                start=dtime.fromisoformat(args.start),
                end=dtime.fromisoformat(end),
                grades=grades,
            )
        )
    meta = {
        "size": args.size,
        "seeds": seeds,
        "sessions": grades.sessions,
        "session": f"{day} {args.start}-{end} ET",
        "move_pct": MOVE_PCT,
        "tolerance_min": TOLERANCE_MIN,
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    doc = to_json(grades, meta)
    if args.json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
