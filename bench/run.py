"""momoscan's benchmarks: one command, a table of figures, each beside its target.

    .venv/bin/python bench/run.py                # everything (several minutes)
    .venv/bin/python bench/run.py quotes cycle   # a selection

Targets live here, never in the test suite: these machines are noisy, so a figure is a
measurement to read, not a pass/fail gate. Each figure is the median of its runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

import detect
import options
import pipeline
import ratelimit
import tui


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: float | None
    lower_is_better: bool = True
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.lower_is_better else self.value >= self.target


def quotes() -> list[Figure]:
    r = pipeline.bench_parse_store()
    return [
        Figure("parse 8,000 quotes (67 Twelve Data batches)", r["parse_ms"], "ms", None),
        Figure(
            "parse + store 8,000 quotes (a transaction per batch)", r["parse_store_ms"], "ms", 50
        ),
    ]


def cycle() -> list[Figure]:
    r = pipeline.bench_cycle()
    return [
        Figure(
            "demo refresh cycle, 8,000 symbols, no rate limit (steady)", r["steady_s"], "s", 2.0
        ),
        Figure("first cycle (universe, 21 OCC days, chains)", r["cold_s"], "s", None),
    ]


def growth() -> list[Figure]:
    r = pipeline.bench_growth()
    return [
        Figure("database growth per simulated trading day, 8,000 symbols", r["day_mb"], "MB", 30),
        Figure("database after the first day (incl. 21 OCC days)", r["first_day_mb"], "MB", None),
    ]


def startup() -> list[Figure]:
    r = tui.bench_startup()
    return [
        Figure("start to first filled table (new user, no database)", r["cold_s"], "s", 1.5),
        Figure("start to first filled table (later starts)", r["warm_s"], "s", 1.5),
    ]


def lag() -> list[Figure]:
    figures = []
    for warm, label in ((False, "first refresh"), (True, "later refreshes")):
        r = tui.bench_lag(warm=warm)
        figures += [
            Figure(f"event-loop lag p99, 8,000 symbols + SPX, {label}", r["p99_ms"], "ms", 20),
            Figure(f"event-loop lag max, {label}", r["max_ms"], "ms", 100),
            Figure(f"key press to action, max, {label}", r["key_max_ms"], "ms", None),
        ]
    return figures


def memory() -> list[Figure]:
    r = tui.bench_memory()
    return [Figure("resident memory after an hour of simulated session", r["rss_mb"], "MB", 150)]


def chain() -> list[Figure]:
    r = options.bench_chain()
    label = f"{r['contracts']:,}-contract chain ({r['mb']:.0f} MB)"
    return [
        Figure(f"parse + aggregate + store a {label}", r["msgspec_ms"], "ms", 250),
        Figure("the same path with json.loads", r["json_ms"], "ms", None),
        Figure("speed-up over json.loads", r["speedup"], "x", 2, lower_is_better=False),
        Figure("peak traced memory of the chain path", r["peak_mb"], "MB", None),
    ]


def occ() -> list[Figure]:
    r = options.bench_occ()
    label = f"OCC day file ({r['mb']:.1f} MB, {r['underlyings']:,} underlyings)"
    return [
        Figure(f"parse an {label}", r["parse_ms"], "ms", 200),
        Figure("parse + store it", r["parse_store_ms"], "ms", None),
        Figure("peak traced memory of the OCC path", r["peak_mb"], "MB", None),
    ]


def credits() -> list[Figure]:
    results = ratelimit.bench_ratelimit(multiple=5)
    figures = []
    for name in ("momoscan", "naive", "restart seeded"):
        r = results[name]
        figures += [
            Figure(f"{name}: lowest share of a full window", r["share_min"], "", None),
            Figure(f"{name}: 429s from the server", r["server_429"], "", None),
            Figure(f"{name}: rate, of the plan's", r["rate"], "", None),
        ]
    return figures


def detection() -> list[Figure]:
    """The 610-credit plan, mixed runners, one session (bench/detect.py has all the plans)."""
    runs = detect.measure(
        [610],
        ["mixed"],
        size=8000,
        seed=7,
        day=detect.DAY,
        start=detect.dtime(9, 20),
        end=detect.dtime(16, 0),
        measure_from=detect.dtime(9, 30),
    )
    by = {run.strategy: run.summary() for run in runs}
    rr, sc = by["round_robin"], by["priority"]
    return [
        Figure("time to detect, 610 credits: round-robin median", rr["median_s"], "s", None),
        Figure("time to detect, 610 credits: scheduler median", sc["median_s"], "s", None),
        Figure("scheduler / round-robin, median", sc["median_s"] / rr["median_s"], "", 0.2),
        Figure("scheduler / round-robin, p90", sc["p90_s"] / rr["p90_s"], "", 0.33),
        Figure("scheduler misses over round-robin's", sc["misses"] - rr["misses"], "", 0),
    ]


BENCHES: dict[str, Callable[[], list[Figure]]] = {
    "quotes": quotes,
    "cycle": cycle,
    "growth": growth,
    "startup": startup,
    "lag": lag,
    "memory": memory,
    "chain": chain,
    "occ": occ,
    "credits": credits,
    "detect": detection,
}


def main(argv: list[str]) -> int:
    wanted = argv or list(BENCHES)
    unknown = [w for w in wanted if w not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
        return 2
    console = Console()
    table = Table(title="momoscan benchmarks")
    for col in ("figure", "measured", "target", ""):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for name in wanted:
        started = time.perf_counter()
        console.print(f"[dim]running {name}...[/]")
        for f in BENCHES[name]():
            target = (
                "-"
                if f.target is None
                else f"{'≤' if f.lower_is_better else '≥'} {f.target:g} {f.unit}"
            )
            mark = "" if f.ok is None else ("[green]ok[/]" if f.ok else "[red]over[/]")
            table.add_row(f.name, f"{f.value:,.2f} {f.unit}", target, mark)
        console.print(f"[dim]{name} took {time.perf_counter() - started:.0f} s[/]")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
