"""Time to detect a runner (issue 12): how long after a planted story could first stand in the
top 10 does momoscan show it there, sweeping round-robin against the priority scheduler, on
the same plan, the same simulated session and the same credits.

One accelerated session of the simulated market over 8,000 names (every cap tier), for plans
of 55, 610 and 1,597 credits a minute: the real engine (`open_runtime` in demo, the market in
this process), one `refresh(full=False)` per simulated minute, the market's clock a minute on
per cycle and the credits counted on a fake wall clock that moves when the budget waits (so a
session's credits pass in no time, and no 429 is ever earned), the top-10 movers and losers
read from the database after each cycle.

The ground truth comes from the market (`SimMarket.planted`, never seen by the engine). A
story's start is the first minute its move from the previous close passes the threshold
(|move| >= 5 %) and it would stand in the top 10 (gainers in the movers table, fallers in the
losers table) if every quote were fresh: before that, no scanner could show it. Its delay is
from then to the first cycle whose table shows it; a miss is a story never shown before the
session ends. Stories already rankable when the run starts (the warm-up sweep saw them) are
left out. Staleness is the age of the least recently quoted name, by the quotes' own times.

    .venv/bin/python bench/detect.py              # all three plans, mixed and surprise runners
    .venv/bin/python bench/detect.py --json       # the same as one JSON object
    .venv/bin/python bench/detect.py --quick      # 45 minutes on 1,500 names (CI smoke)
    .venv/bin/python bench/detect.py --plans 610 --runners mixed
    .venv/bin/python bench/detect.py --seeds 7,11,13 --jobs 2   # three sessions' stories pooled
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import orjson

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.models import CAP_TIERS
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.market import SimMarket
from momoscan.store import Store

DAY = date(2026, 11, 20)
PLANS = (55, 610, 1597)
STRATEGIES = ("round_robin", "priority")
#: A story counts once its move from the previous close is at least this (a fraction).
THRESHOLD = 0.05
TOP = 10
MIN_PRICE = 1.0


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
class Story:
    symbol: str
    kind: str
    direction: int
    start: float  # Unix seconds: first minute it could stand in the top 10
    shown: float | None = None


@dataclass
class Run:
    plan: int
    strategy: str
    runners: str
    stories: list[Story] = field(default_factory=list)
    credits: int = 0
    max_staleness_s: float = 0.0
    seconds: float = 0.0
    probes: int = 0
    cycles: int = 0

    def summary(self) -> dict[str, Any]:
        delays = sorted(s.shown - s.start for s in self.stories if s.shown is not None)
        misses = sum(1 for s in self.stories if s.shown is None)
        return {
            "median_s": round(statistics.median(delays), 1) if delays else None,
            "p90_s": round(_quantile(delays, 0.9), 1) if delays else None,
            "misses": misses,
            "runners": len(self.stories),
            "max_staleness_s": round(self.max_staleness_s, 1),
            "credits": self.credits,
        }


def _quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation (numpy's default)."""
    return float(np.quantile(np.asarray(values, dtype=np.float64), q))


def oracle_stories(
    market: SimMarket, day: date, first: int, last: int, tiers: Sequence[str]
) -> list[Story]:
    """Each planted story's first minute in `[first, last]` (minutes from 04:00) at which it
    passes the threshold and would rank in the top 10 with every quote fresh; stories that
    could already rank at `first - 1` (seen by the warm-up) or never can are left out."""
    sim = market.day_for(day)
    n = len(market.stocks)
    tier = np.array([s.cap_tier in tiers for s in market.stocks])
    # Only the minutes measured (and the one before): column m - lo is minute m.
    lo = first - 1
    price = sim.price[:n, lo : last + 1]
    change = price / sim.prev_close[:n, None].astype(np.float32) - 1.0
    eligible = tier[:, None] & (price >= MIN_PRICE)
    minutes = range(first - 1, last + 1)
    # The 10th best at each minute: the bar to clear.
    up = np.where(eligible, change, -np.inf)
    up_bar = {m: np.partition(up[:, m - lo], -TOP)[-TOP] for m in minutes}
    del up
    down = np.where(eligible, change, np.inf)
    down_bar = {m: np.partition(down[:, m - lo], TOP - 1)[TOP - 1] for m in minutes}
    del down
    base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET).timestamp()
    out = []
    for story in market.planted(day):
        i = market.index[story.symbol]
        if i >= n or not tier[i]:
            continue

        def ranks(m: int, i: int = i, direction: int = story.direction) -> bool:
            c = change[i, m - lo]
            if not eligible[i, m - lo]:
                return False
            if direction > 0:
                return bool(c >= THRESHOLD and c >= up_bar[m])
            return bool(c <= -THRESHOLD and c <= down_bar[m])

        if ranks(first - 1):
            continue  # on screen from the start
        start = next((m for m in range(first, last + 1) if ranks(m)), None)
        if start is not None:
            out.append(Story(story.symbol, story.kind, story.direction, base + start * 60.0))
    return out


async def run_session(
    plan: int,
    strategy: str,
    runners: str,
    *,
    size: int,
    seed: int,
    day: date,
    start: dtime,
    end: dtime,
    measure_from: dtime,
    probe: bool = True,
) -> Run:
    """One session of one strategy on one plan (`probe`: the scheduler may ask the market
    movers list where the plan has it)."""
    began = time.perf_counter()
    tiers = list(CAP_TIERS)
    settings = Settings()
    settings.demo.size = size
    settings.demo.seed = seed
    settings.demo.plan_limit = plan
    settings.demo.runners = runners
    settings.universe.cap_tiers = tiers  # the whole market: 8,000 names swept
    settings.universe.min_price = MIN_PRICE
    settings.options.enabled = False
    settings.scan.scheduler = strategy
    settings.twelvedata.market_movers = probe
    # One request at a time: on the fake clock, a batch waiting for credits moves time for
    # the requests in flight too, and would land them in the next window.
    settings.twelvedata.concurrency = 1
    at = datetime.combine(day, start, tzinfo=mh.ET)
    closes = datetime.combine(day, end, tzinfo=mh.ET)
    fake = FakeTime(1_800_000_000.0)
    run = Run(plan, strategy, runners)
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(
            db=str(Path(tmp) / "detect.db"),
            demo_start=at,
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
            base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
            measured = datetime.combine(day, measure_from, tzinfo=mh.ET)
            first = int((measured - base).total_seconds() // 60)
            last = int((closes - base).total_seconds() // 60)
            run.stories = oracle_stories(market, day, first, last, tiers)
            pending = {(s.symbol, s.direction): s for s in run.stories}
            warm = await rt.engine.refresh(full=True)  # every name seen once
            assert warm.status == "ok", warm.lines()
            reader = Store(rt.db_path)
            try:
                while clock.now() < closes:
                    clock.advance(60)
                    report = await rt.engine.refresh(full=False)
                    run.cycles += 1
                    run.credits += report.credits_used
                    now = clock.now().timestamp()
                    start_ts = queries.session_start(reader, now)
                    movers = queries.top_movers(reader, tiers, MIN_PRICE, TOP, start=start_ts)
                    losers = queries.top_losers(reader, tiers, MIN_PRICE, TOP, start=start_ts)
                    for rows, direction in ((movers, 1), (losers, -1)):
                        for row in rows:
                            story = pending.get((row.symbol, direction))
                            if story is not None and story.start <= now:
                                story.shown = now
                                del pending[(row.symbol, direction)]
                    oldest = reader.conn.execute(
                        "SELECT MIN(COALESCE(quote_ts, fetched_at)) FROM quotes"
                    ).fetchone()[0]
                    if clock.now() > measured:
                        run.max_staleness_s = max(run.max_staleness_s, now - oldest)
            finally:
                reader.close()
            scheduler = rt.engine.scheduler
            run.probes = getattr(scheduler, "probes_total", 0)
    run.seconds = time.perf_counter() - began
    return run


def _one(args: tuple[int, str, str, dict[str, Any]]) -> Run:
    plan, strategy, runners, kw = args
    return asyncio.run(run_session(plan, strategy, runners, **kw))


def pool(runs: Sequence[Run]) -> list[Run]:
    """One run per (runners, plan, strategy), the sessions of several seeds together: their
    stories side by side (a median of 14 stories moves a whole minute at a time), credits and
    cycles summed, the worst staleness."""
    out: dict[tuple[str, int, str], Run] = {}
    for run in runs:
        key = (run.runners, run.plan, run.strategy)
        held = out.get(key)
        if held is None:
            out[key] = replace(run, stories=list(run.stories))
            continue
        held.stories += run.stories
        held.credits += run.credits
        held.max_staleness_s = max(held.max_staleness_s, run.max_staleness_s)
        held.seconds += run.seconds
        held.probes += run.probes
        held.cycles += run.cycles
    return list(out.values())


def measure(
    plans: Sequence[int],
    modes: Sequence[str],
    *,
    size: int,
    seed: int | Sequence[int],
    day: date,
    start: dtime,
    end: dtime,
    measure_from: dtime,
    jobs: int = 1,
    probe: bool = True,
) -> list[Run]:
    """Every (runners, plan, strategy) session, for each seed; several seeds' sessions are
    pooled (`pool`)."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    common = {
        "size": size,
        "day": day,
        "start": start,
        "end": end,
        "measure_from": measure_from,
        "probe": probe,
    }
    work = [
        (p, s, m, {**common, "seed": sd})
        for sd in seeds
        for m in modes
        for p in plans
        for s in STRATEGIES
    ]
    if jobs <= 1:
        runs = [_one(w) for w in work]
    else:
        with ProcessPoolExecutor(jobs) as executor:
            runs = list(executor.map(_one, work))
    return pool(runs) if len(seeds) > 1 else runs


def to_json(runs: Sequence[Run], meta: dict[str, Any]) -> dict[str, Any]:
    """`{"plans": {"610": {"round_robin": {...}, "scheduler": {...}}}, "surprise": {"plans":
    ...}}`: the mixed runners' figures under "plans", the surprise knob's beside them."""
    out: dict[str, Any] = {**meta}
    for mode in ("mixed", "surprise"):
        plans: dict[str, Any] = {}
        for run in runs:
            if run.runners != mode:
                continue
            key = "round_robin" if run.strategy == "round_robin" else "scheduler"
            plans.setdefault(str(run.plan), {})[key] = run.summary()
        if not plans:
            continue
        if mode == "mixed":
            out["plans"] = plans
        else:
            out["surprise"] = {"plans": plans}
    return out


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for title, plans in (
        ("mixed runners", doc.get("plans", {})),
        ("surprise runners (no prior signal)", doc.get("surprise", {}).get("plans", {})),
    ):
        if not plans:
            continue
        table = Table(title=f"Time to detect, {title}: {doc['size']:,} names, {doc['session']}")
        for column in (
            "plan",
            "strategy",
            "median",
            "p90",
            "misses",
            "runners",
            "max staleness",
            "credits",
        ):
            table.add_column(column, justify="right")
        for plan, pair in plans.items():
            for key in ("round_robin", "scheduler"):
                r = pair.get(key)
                if r is None:
                    continue
                table.add_row(
                    plan,
                    key.replace("_", "-"),
                    _fmt(r["median_s"]),
                    _fmt(r["p90_s"]),
                    str(r["misses"]),
                    str(r["runners"]),
                    _fmt(r["max_staleness_s"]),
                    f"{r['credits']:,}",
                )
            rr, sc = pair.get("round_robin"), pair.get("scheduler")
            if rr and sc and rr["median_s"] and sc["median_s"] is not None:
                ratio = sc["median_s"] / rr["median_s"]
                p90 = sc["p90_s"] / rr["p90_s"] if rr["p90_s"] else float("nan")
                table.add_row("", "ratio", f"{ratio:.2f}", f"{p90:.2f}", "", "", "", "")
        console.print(table)
    console.print(f"{doc['seconds']:.0f} s in all")


def print_stories(runs: Sequence[Run]) -> None:
    """Each story's delay under each strategy, plan by plan (stderr)."""
    table: dict[tuple[str, int], dict[tuple[str, int], dict[str, Story]]] = {}
    for run in runs:
        for story in run.stories:
            key = (story.symbol, story.direction)
            table.setdefault((run.runners, run.plan), {}).setdefault(key, {})[run.strategy] = story
    for (mode, plan), stories in table.items():
        print(f"{mode} {plan}:", file=sys.stderr)
        for (symbol, _), by in sorted(
            stories.items(), key=lambda kv: min(s.start for s in kv[1].values())
        ):
            any_story = next(iter(by.values()))
            at = datetime.fromtimestamp(any_story.start, mh.ET).strftime("%H:%M")
            delays = "  ".join(
                f"{name[:5]} {_fmt(s.shown - s.start) if s.shown else 'MISS':>9}"
                for name, s in sorted(by.items())
            )
            print(f"  {symbol:6} {any_story.kind:12} {at}  {delays}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="45 minutes on 1,500 names")
    parser.add_argument("--plans", default=",".join(map(str, PLANS)))
    parser.add_argument("--runners", choices=("mixed", "surprise", "both"), default="both")
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument(
        "--seeds",
        default="7",
        help="the simulated market's seeds, comma-separated: their sessions' stories pooled",
    )
    parser.add_argument("--date", default=DAY.isoformat())
    parser.add_argument("--start", default="09:20", help="warm-up sweep (ET)")
    parser.add_argument("--measure-from", default="09:30", help="stories counted from (ET)")
    parser.add_argument("--end", default="16:00", help="last cycle (ET)")
    parser.add_argument("--jobs", type=int, default=1, help="sessions run at once")
    parser.add_argument("--stories", action="store_true", help="each story's delays, on stderr")
    parser.add_argument(
        "--no-probe", action="store_true", help="the scheduler without the market movers probe"
    )
    args = parser.parse_args(argv)
    plans = [int(p) for p in args.plans.split(",") if p]
    modes = ("mixed", "surprise") if args.runners == "both" else (args.runners,)
    size, end = args.size, args.end
    if args.quick:
        size, end = min(size, 1500), "10:15"
    day = date.fromisoformat(args.date)
    seeds = [int(x) for x in args.seeds.split(",") if x]
    began = time.perf_counter()
    runs = measure(
        plans,
        modes,
        size=size,
        seed=seeds,
        day=day,
        start=dtime.fromisoformat(args.start),
        end=dtime.fromisoformat(end),
        measure_from=dtime.fromisoformat(args.measure_from),
        jobs=args.jobs,
        probe=not args.no_probe,
    )
    meta = {
        "size": size,
        "seeds": seeds,
        "session": f"{day} {args.measure_from}-{end} ET",
        "threshold_pct": THRESHOLD * 100,
        "probe": not args.no_probe,
        "seconds": round(time.perf_counter() - began, 1),
    }
    doc = to_json(runs, meta)
    if args.stories:
        print_stories(runs)
    if args.json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_table(doc)
        for run in runs:
            print(
                f"  {run.runners} {run.plan} {run.strategy}: {run.cycles} cycles, "
                f"{run.seconds:.0f} s",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
