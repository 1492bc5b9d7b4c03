"""Time to detect a runner (issues 12 and 27): how long after a planted story could first
stand in the top 10 does momoscan show it there, sweeping round-robin against the priority
scheduler, on the same plan, the same simulated session and the same credits.

One accelerated session of the simulated market over 8,000 names: the real engine
(`open_runtime` in demo, the market in this process, its SEC feed and company facts read by
the engine's own steps), one `refresh(full=False)` per simulated minute, the market's clock a
minute on per cycle and the credits (and the SEC's request pace) counted on a fake wall clock
that moves when a budget waits (so a session's credits pass in no time, and no 429 is ever
earned), the top-10 movers and losers read from the database after each cycle. Three cases
(`--case`, all by default):

- all: every cap tier is the universe (plans of 55, 610 and 1,597 credits), so the market's
  movers list (the probe) is drawn from the universe's own names;
- default: the user's default, the config's default cap tiers (small to large caps) inside
  the whole simulated market, whose movers list is drawn from every stock, micro caps
  included, which crowd it (plans of 55 and 610): the probe's advantage where it is smallest;
- catalyst: the stories the market planted a filing before (`simulated.sec.planted_filings`),
  the scheduler's free signals (filings, floats) on and off, on the default case with mixed
  runners: "catalyst on: median X, off: Y".

The ground truth comes from the market (`SimMarket.planted`, never seen by the engine). A
story's start is the first minute its move from the previous close passes the threshold
(|move| >= 5 %) and it would stand in the universe's top 10 (gainers in the movers table,
fallers in the losers table) if every quote were fresh: before that, no scanner could show
it. Its delay is from then to the first cycle whose table shows it; a miss is a story never
shown before the session ends. Stories already rankable when the run starts (the warm-up
sweep saw them) are left out. Staleness is the age of the least recently quoted name, by the
quotes' own times.

    .venv/bin/python bench/detect.py              # every case, mixed and surprise runners
    .venv/bin/python bench/detect.py --json       # the same as one JSON object
    .venv/bin/python bench/detect.py --quick      # 45 minutes on 1,500 names (CI smoke)
    .venv/bin/python bench/detect.py --case default --plans 610 --runners mixed
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
from momoscan.engine.scheduler import PriorityScheduler
from momoscan.models import CAP_TIERS
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.market import SimMarket
from momoscan.simulated.sec import planted_filings
from momoscan.store import Store

DAY = date(2026, 11, 20)
PLANS = (55, 610, 1597)
#: The plans of the user's default case and of the catalyst stories (issue 27's targets).
CASE_PLANS = (55, 610)
STRATEGIES = ("round_robin", "priority")
#: What is measured: "all" every tier as the universe (the market's movers list drawn from
#: the same names); "default" the default cap tiers inside the whole market, whose movers
#: list the micro caps crowd; "catalyst" the stories with a filing planted before them, the
#: scheduler's free signals (filings, floats) on and off, on the default case.
CASES = ("all", "default", "catalyst")
#: The universe's cap tiers: every one, or the config's defaults (small to large caps).
TIERS = {"all": tuple(CAP_TIERS), "default": tuple(Settings().universe.cap_tiers)}
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
    catalyst: bool = False  # a filing was planted on the name before it


@dataclass(frozen=True)
class Spec:
    """One session: the universe's tiers ("all" or "default"), the runners mode, the plan,
    the strategy, and whether the scheduler reads its free signals (filings, floats)."""

    tiers: str
    runners: str
    plan: int
    strategy: str
    signals: bool = True


@dataclass
class Run:
    plan: int
    strategy: str
    runners: str
    tiers: str = "all"
    signals: bool = True
    stories: list[Story] = field(default_factory=list)
    credits: int = 0
    max_staleness_s: float = 0.0
    seconds: float = 0.0
    probes: int = 0
    cycles: int = 0

    def summary(self, stories: Sequence[Story] | None = None) -> dict[str, Any]:
        """Its figures, over `stories` (default: all of its stories)."""
        told = self.stories if stories is None else stories
        delays = sorted(s.shown - s.start for s in told if s.shown is not None)
        misses = sum(1 for s in told if s.shown is None)
        return {
            "median_s": round(statistics.median(delays), 1) if delays else None,
            "p90_s": round(_quantile(delays, 0.9), 1) if delays else None,
            "misses": misses,
            "runners": len(told),
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
    tiers: str = "all",
    signals: bool = True,
    size: int,
    seed: int,
    day: date,
    start: dtime,
    end: dtime,
    measure_from: dtime,
    probe: bool = True,
) -> Run:
    """One session of one strategy on one plan, the universe `tiers` ("all" or "default":
    `TIERS`) inside the whole simulated market (`probe`: the scheduler may ask the market
    movers list where the plan has it; `signals`: it reads its free signals)."""
    began = time.perf_counter()
    universe = list(TIERS[tiers])
    settings = Settings()
    settings.demo.size = size
    settings.demo.seed = seed
    settings.demo.plan_limit = plan
    settings.demo.runners = runners
    # The universe: every tier (the whole market, 8,000 names swept) or the default tiers;
    # the market's movers list is drawn from every listing either way.
    settings.universe.cap_tiers = universe
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
    run = Run(plan, strategy, runners, tiers, signals)
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(
            db=str(Path(tmp) / "detect.db"),
            demo_start=at,
            demo_latency=0.0,
            demo_in_process=True,
            offload_processes=False,
            credit_clock=fake,
            credit_sleep=fake.sleep,
            wall=fake,
        )
        async with open_runtime(settings, options) as rt:
            clock = rt.clock
            assert isinstance(clock, FixedClock) and isinstance(rt.market, SimMarket)
            market = rt.market
            scheduler = rt.engine.scheduler
            if isinstance(scheduler, PriorityScheduler):
                scheduler.free_signals = signals
            base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
            measured = datetime.combine(day, measure_from, tzinfo=mh.ET)
            first = int((measured - base).total_seconds() // 60)
            last = int((closes - base).total_seconds() // 60)
            run.stories = oracle_stories(market, day, first, last, universe)
            # The filings the market planted before its stories (the engine reads them from
            # its SEC feed, as it does every filing).
            filed: dict[str, float] = {}
            for planted in planted_filings(market, day):
                filed.setdefault(planted.symbol, planted.accepted_at.timestamp())
            for story in run.stories:
                filed_at = filed.get(story.symbol)
                story.catalyst = filed_at is not None and filed_at <= story.start
            pending = {(s.symbol, s.direction): s for s in run.stories}
            warm = await rt.engine.refresh(full=True)  # every name seen once
            # Every name quoted (a keyless source's failure, as the SEC's in demo, is not
            # this bench's concern).
            assert warm.quotes == warm.symbols, warm.lines()
            reader = Store(rt.db_path)
            tick = fake.now
            try:
                while clock.now() < closes:
                    clock.advance(60)
                    # The wall clock moves a minute a cycle too (at least: a budget waiting
                    # for credits moves it itself), so that the steps paced in wall seconds
                    # (the SEC's filings, the halts feed) read their feeds once a minute, as
                    # they would live: on real time, a session's 390 cycles took a few
                    # minutes and the filings were read a handful of times.
                    tick = max(fake.now, tick + 60.0)
                    fake.now = tick
                    report = await rt.engine.refresh(full=False)
                    run.cycles += 1
                    run.credits += report.credits_used
                    now = clock.now().timestamp()
                    start_ts = queries.session_start(reader, now)
                    movers = queries.top_movers(reader, universe, MIN_PRICE, TOP, start=start_ts)
                    losers = queries.top_losers(reader, universe, MIN_PRICE, TOP, start=start_ts)
                    for rows, direction in ((movers, 1), (losers, -1)):
                        for row in rows:
                            told = pending.get((row.symbol, direction))
                            if told is not None and told.start <= now:
                                told.shown = now
                                del pending[(row.symbol, direction)]
                    oldest = reader.conn.execute(
                        "SELECT MIN(COALESCE(quote_ts, fetched_at)) FROM quotes"
                    ).fetchone()[0]
                    if clock.now() > measured:
                        run.max_staleness_s = max(run.max_staleness_s, now - oldest)
            finally:
                reader.close()
            run.probes = getattr(scheduler, "probes_total", 0)
    run.seconds = time.perf_counter() - began
    return run


def _one(args: tuple[Spec, dict[str, Any]]) -> Run:
    spec, kw = args
    return asyncio.run(
        run_session(
            spec.plan,
            spec.strategy,
            spec.runners,
            tiers=spec.tiers,
            signals=spec.signals,
            **kw,
        )
    )


def pool(runs: Sequence[Run]) -> list[Run]:
    """One run per (tiers, signals, runners, plan, strategy), the sessions of several seeds
    together: their stories side by side (a median of 14 stories moves a whole minute at a
    time), credits and cycles summed, the worst staleness."""
    out: dict[tuple[str, bool, str, int, str], Run] = {}
    for run in runs:
        key = (run.tiers, run.signals, run.runners, run.plan, run.strategy)
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


def specs(
    cases: Sequence[str],
    plans: Sequence[int],
    case_plans: Sequence[int],
    modes: Sequence[str],
    *,
    signals: bool = True,
    strategies: Sequence[str] = STRATEGIES,
) -> list[Spec]:
    """The sessions the cases need, each once: "all" on `plans`, "default" and "catalyst" on
    `case_plans` (the catalyst stories' "on" figures are the default case's mixed runs).
    `signals` False: the scheduler of the "all" and "default" cases without its free
    signals (the scheduler as it was before them). `strategies`: those of the "all" and
    "default" cases."""
    out: list[Spec] = []
    if "all" in cases:
        out += [Spec("all", m, p, s, signals) for m in modes for p in plans for s in strategies]
    if "default" in cases:
        out += [
            Spec("default", m, p, s, signals) for m in modes for p in case_plans for s in strategies
        ]
    if "catalyst" in cases:
        for p in case_plans:
            out += [Spec("default", "mixed", p, "priority", on) for on in (True, False)]
    return list(dict.fromkeys(out))


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
    """Every (runners, plan, strategy) session with every tier as the universe (the "all"
    case, as `bench/run.py` asks it), for each seed; several seeds' sessions are pooled."""
    return measure_specs(
        specs(["all"], plans, plans, modes),
        size=size,
        seed=seed,
        day=day,
        start=start,
        end=end,
        measure_from=measure_from,
        jobs=jobs,
        probe=probe,
    )


def measure_specs(
    work: Sequence[Spec],
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
    """Every session of `work`, for each seed; several seeds' sessions are pooled (`pool`)."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    common = {
        "size": size,
        "day": day,
        "start": start,
        "end": end,
        "measure_from": measure_from,
        "probe": probe,
    }
    jobs_list = [(spec, {**common, "seed": sd}) for sd in seeds for spec in work]
    if jobs <= 1:
        runs = [_one(w) for w in jobs_list]
    else:
        with ProcessPoolExecutor(jobs) as executor:
            runs = list(executor.map(_one, jobs_list))
    return pool(runs) if len(seeds) > 1 else runs


def _plans(runs: Sequence[Run], tiers: str, mode: str, signals: bool) -> dict[str, Any]:
    """`{"610": {"round_robin": {...}, "scheduler": {...}}}` of the runs with the free
    signals as asked (round-robin has none)."""
    plans: dict[str, Any] = {}
    for run in runs:
        if run.tiers != tiers or run.runners != mode:
            continue
        if run.strategy != "round_robin" and run.signals != signals:
            continue
        key = "round_robin" if run.strategy == "round_robin" else "scheduler"
        plans.setdefault(str(run.plan), {})[key] = run.summary()
    return plans


def catalyst_figures(runs: Sequence[Run]) -> dict[str, Any]:
    """`{"610": {"on": {...}, "off": {...}}}`: the scheduler's figures over the stories with
    a filing planted before them, its free signals on and off (default case, mixed runners)."""
    out: dict[str, Any] = {}
    for run in runs:
        if run.tiers != "default" or run.runners != "mixed" or run.strategy != "priority":
            continue
        told = [s for s in run.stories if s.catalyst]
        key = "on" if run.signals else "off"
        out.setdefault(str(run.plan), {})[key] = run.summary(told)
    return {plan: pair for plan, pair in out.items() if len(pair) == 2}


def to_json(
    runs: Sequence[Run], meta: dict[str, Any], cases: Sequence[str] = CASES, signals: bool = True
) -> dict[str, Any]:
    """Every tier's figures as before (`{"plans": {"610": {"round_robin": {...},
    "scheduler": {...}}}, "surprise": {"plans": ...}}`), the default case's beside them
    (`"default": {"plans": ..., "surprise": {"plans": ...}}`) and the catalyst stories'
    (`"catalyst": {"610": {"on": {...}, "off": {...}}}`)."""
    out: dict[str, Any] = {**meta}
    for tiers in ("all", "default"):
        if tiers not in cases:
            continue
        into = out if tiers == "all" else out.setdefault("default", {})
        for mode in ("mixed", "surprise"):
            plans = _plans(runs, tiers, mode, signals)
            if not plans:
                continue
            if mode == "mixed":
                into["plans"] = plans
            else:
                into["surprise"] = {"plans": plans}
    if "catalyst" in cases:
        out["catalyst"] = catalyst_figures(runs)
    return out


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    default = doc.get("default", {})
    every = "every tier"
    tiers = "default tiers in the whole market"
    for title, plans in (
        (f"mixed runners, {every}", doc.get("plans", {})),
        (f"surprise runners (no prior signal), {every}", doc.get("surprise", {}).get("plans", {})),
        (f"mixed runners, {tiers}", default.get("plans", {})),
        (f"surprise runners, {tiers}", default.get("surprise", {}).get("plans", {})),
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
    for line in catalyst_lines(doc):
        console.print(line, markup=False, highlight=False)
    console.print(f"{doc['seconds']:.0f} s in all")


def catalyst_lines(doc: dict[str, Any]) -> list[str]:
    """One line a plan: "catalyst on: median 0 s, off: 2.0 min (610 credits, 9 stories
    with a filing before them; misses 0 and 1)"."""
    out = []
    for plan, pair in doc.get("catalyst", {}).items():
        on, off = pair["on"], pair["off"]
        out.append(
            f"catalyst on: median {_fmt(on['median_s'])}, off: {_fmt(off['median_s'])} "
            f"({plan} credits, default tiers, {on['runners']} stories with a filing before "
            f"them; p90 {_fmt(on['p90_s'])} and {_fmt(off['p90_s'])}, misses {on['misses']} "
            f"and {off['misses']})"
        )
    if "catalyst" in doc and not doc["catalyst"]:
        out.append("catalyst: no story had a filing planted before it")
    return out


def print_stories(runs: Sequence[Run]) -> None:
    """Each story's delay under each strategy, plan by plan (stderr)."""
    table: dict[tuple[str, str, int], dict[tuple[str, int], dict[str, Story]]] = {}
    for run in runs:
        name = run.strategy if run.signals else f"{run.strategy}-nosig"
        for story in run.stories:
            key = (story.symbol, story.direction)
            where = (run.tiers, run.runners, run.plan)
            table.setdefault(where, {}).setdefault(key, {})[name] = story
    for (tiers, mode, plan), stories in table.items():
        print(f"{tiers} {mode} {plan}:", file=sys.stderr)
        for (symbol, _), by in sorted(
            stories.items(), key=lambda kv: min(s.start for s in kv[1].values())
        ):
            any_story = next(iter(by.values()))
            at = datetime.fromtimestamp(any_story.start, mh.ET).strftime("%H:%M")
            delays = "  ".join(
                f"{name[:5]} {_fmt(s.shown - s.start) if s.shown else 'MISS':>9}"
                for name, s in sorted(by.items())
            )
            mark = "filed" if any_story.catalyst else ""
            print(f"  {symbol:6} {any_story.kind:12} {mark:5} {at}  {delays}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="45 minutes on 1,500 names")
    parser.add_argument(
        "--case",
        default=",".join(CASES),
        help="what to measure, comma-separated: all (every tier), default (the default tiers "
        "in the whole market), catalyst (filings before stories, free signals on and off)",
    )
    parser.add_argument(
        "--plans",
        default="",
        help=f"credit plans (default: {','.join(map(str, PLANS))} for every tier, "
        f"{','.join(map(str, CASE_PLANS))} for the default and catalyst cases)",
    )
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
    parser.add_argument(
        "--strategies",
        default=",".join(STRATEGIES),
        help="the strategies of the all and default cases, comma-separated",
    )
    parser.add_argument(
        "--no-signals",
        action="store_true",
        help="the scheduler without its free signals (filings, floats) in the all and "
        "default cases",
    )
    args = parser.parse_args(argv)
    cases = [c for c in args.case.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"--case: unknown {', '.join(unknown)} (one of {', '.join(CASES)})")
    chosen = [int(p) for p in args.plans.split(",") if p]
    plans, case_plans = (chosen, chosen) if chosen else (list(PLANS), list(CASE_PLANS))
    modes = ("mixed", "surprise") if args.runners == "both" else (args.runners,)
    size, end = args.size, args.end
    if args.quick:
        size, end = min(size, 1500), "10:15"
    day = date.fromisoformat(args.date)
    seeds = [int(x) for x in args.seeds.split(",") if x]
    began = time.perf_counter()
    runs = measure_specs(
        specs(
            cases,
            plans,
            case_plans,
            modes,
            signals=not args.no_signals,
            strategies=[s for s in args.strategies.split(",") if s],
        ),
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
        "free_signals": not args.no_signals,
        "default_tiers": list(TIERS["default"]),
        "seconds": round(time.perf_counter() - began, 1),
    }
    doc = to_json(runs, meta, cases, not args.no_signals)
    if args.stories:
        print_stories(runs)
    if args.json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_table(doc)
        for run in runs:
            signals = "" if run.signals else " (free signals off)"
            print(
                f"  {run.tiers} {run.runners} {run.plan} {run.strategy}{signals}: "
                f"{run.cycles} cycles, {run.seconds:.0f} s",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
