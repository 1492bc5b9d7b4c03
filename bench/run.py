"""momoscan's benchmarks: one command, a table of figures, each beside its target.

    .venv/bin/python bench/run.py                # everything (about 40 minutes)
    .venv/bin/python bench/run.py quotes cycle   # a selection

Targets live here, never in the test suite: these machines are noisy, so a figure is a
measurement to read, not a pass/fail gate. Each figure prints the min / median / max of its
runs and is checked on the median, or on the worst run where it says "every run"; each
section ends with the share of the CPU the host withheld meanwhile (bench/host.py). The lag
and import sections set aside a run in which the host withheld over 5% of the CPU and run
another in its place (at most twice as many runs in all), and print the runs set aside.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

import detect
import host
import keys as keypress
import options
import pipeline
import ratelimit
import simmarket
import stream
import tui


@dataclass
class Figure:
    name: str
    values: float | list[float]  # one run's figure, or each run's
    unit: str
    target: float | None
    lower_is_better: bool = True
    every_run: bool = False  # the target holds for the worst run, not only the median

    @property
    def runs(self) -> list[float]:
        return self.values if isinstance(self.values, list) else [self.values]

    @property
    def checked(self) -> float:
        """The value the target is checked against."""
        if not self.every_run:
            return statistics.median(self.runs)
        return max(self.runs) if self.lower_is_better else min(self.runs)

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        value = self.checked
        return value <= self.target if self.lower_is_better else value >= self.target

    def measured(self) -> str:
        runs = self.runs
        if len(runs) == 1:
            return f"{runs[0]:,.2f} {self.unit}"
        low, mid, high = min(runs), statistics.median(runs), max(runs)
        return f"{low:,.2f} / {mid:,.2f} / {high:,.2f} {self.unit}"


def quotes() -> list[Figure]:
    r = pipeline.bench_parse_store()
    ratio = "parse + store against the raw executemany, every run"
    return [
        Figure("parse 8,000 quotes (67 Twelve Data batches)", r["parse_ms"], "ms", None),
        Figure(
            "parse + store 8,000 quotes, a transaction a batch", r["parse_store_ms"], "ms", None
        ),
        Figure("raw sqlite3 executemany of the same rows, same schema", r["raw_ms"], "ms", None),
        Figure(ratio, r["ratio"], "x", 1.5, every_run=True),
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


def imports(runs: int = 7, tries: int = 14) -> list[Figure]:
    """`import momoscan.cli` (the headless path cron runs) in a fresh interpreter, as
    `-X importtime` counts it (its cumulative microseconds), `runs` times; a run in which the
    host withheld over `host.QUIET` of the CPU is set aside for another (`host.pick_quiet`),
    at most `tries` runs in all."""
    results: list[tuple[float, float | None]] = []  # (seconds, share withheld)

    def steal(r: tuple[float, float | None]) -> float | None:
        return r[1]

    while len(results) < tries and host.quiet_count(results, steal) < runs:
        ticks = host.cpu_ticks()
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import momoscan.cli"],
            capture_output=True,
            text=True,
            check=True,
        )
        last = [line for line in result.stderr.splitlines() if line.endswith("| momoscan.cli")]
        results.append(
            (int(last[-1].split("|")[1]) / 1e6, host.steal_share(ticks, host.cpu_ticks()))
        )
    kept, aside = host.pick_quiet(results, runs, steal)
    figures = [
        Figure("import momoscan.cli (headless path)", [s for s, _ in kept], "s", 0.3),
        Figure(
            f"  runs set aside, the host withholding over {host.QUIET:.0%}",
            float(len(aside)),
            "",
            None,
        ),
    ]
    if aside:
        figures.append(Figure("    their import time", [s for s, _ in aside], "s", None))
    return figures


def startup() -> list[Figure]:
    r = tui.bench_startup()
    return [
        Figure("start to first filled table (new user, no database)", r["cold_s"], "s", 1.5),
        Figure("start to first filled table (later starts)", r["warm_s"], "s", 1.5),
    ]


def lag(runs: int = 3, tries: int = 6) -> list[Figure]:
    """The loop's lateness during the first refresh and later ones, `runs` runs each (each
    run a fresh process and database), interleaved. A run in which the host withheld more
    than `host.QUIET` of the CPU time asked is set aside and another run takes its place, at
    most `tries` runs a kind in all (`host.pick_quiet`); what was set aside is printed."""

    def steal(r: dict[str, float]) -> float:
        return r["steal_pct"] / 100

    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(tries):
        wanted = [w for w in (False, True) if host.quiet_count(results[w], steal) < runs]
        if not wanted:
            break
        for warm in wanted:
            results[warm].append(tui.bench_lag(warm=warm))
    figures = []
    for warm, label in ((False, "first refresh"), (True, "later refreshes")):
        rs, aside = host.pick_quiet(results[warm], runs, steal)
        figures += [
            Figure(
                f"event-loop lag p99, 8,000 symbols + SPX, {label}",
                [r["p99_ms"] for r in rs],
                "ms",
                20,
                every_run=True,
            ),
            Figure(
                f"event-loop lag max, {label}", [r["max_ms"] for r in rs], "ms", 100, every_run=True
            ),
            Figure(f"key press to action, max, {label}", [r["key_max_ms"] for r in rs], "ms", None),
            # The host's share: a sample is clear when no steal tick fell in its 10 ms.
            Figure(
                f"  CPU time the host withheld, {label}", [r["steal_pct"] for r in rs], "%", None
            ),
            Figure(
                f"  lag p99 of the clear samples, {label}",
                [r["clear_p99_ms"] for r in rs],
                "ms",
                None,
            ),
            Figure(
                f"  lag max of the clear samples, {label}",
                [r["clear_max_ms"] for r in rs],
                "ms",
                None,
            ),
            Figure(f"  share of samples clear, {label}", [r["clear_pct"] for r in rs], "%", None),
            Figure(
                f"  runs set aside, the host withholding over {host.QUIET:.0%}, {label}",
                float(len(aside)),
                "",
                None,
            ),
        ]
        if aside:
            figures += [
                Figure(
                    f"    their CPU time withheld, {label}",
                    [r["steal_pct"] for r in aside],
                    "%",
                    None,
                ),
                Figure(f"    their lag p99, {label}", [r["p99_ms"] for r in aside], "ms", None),
                Figure(f"    their lag max, {label}", [r["max_ms"] for r in aside], "ms", None),
            ]
    return figures


def sparklines(runs: int = 5, lag_runs: int = 3) -> list[Figure]:
    """Issue 13's two figures, with the sparklines on (the app's default), each beside the
    same measurement without them, run for run in the same session: start to the first
    filled table, and the loop's p99 during a later refresh of 8,000 names (the first one
    too, with them). On and off alternate run by run."""
    # On and off alternate run by run, so a slow spell of the host falls on both sides.
    on: dict[str, list[float]] = {"cold": [], "warm": []}
    off: dict[str, list[float]] = {"cold": [], "warm": []}
    for _ in range(runs):
        for sparks, into in ((True, on), (False, off)):
            for kind, seconds in tui.startup_runs(1, sparks=sparks).items():
                into[kind] += seconds
    lag_on: list[float] = []
    lag_off: list[float] = []
    lag_first: list[float] = []
    for _ in range(lag_runs):
        lag_on.append(tui.bench_lag(warm=True, sparks=True)["p99_ms"])
        lag_off.append(tui.bench_lag(warm=True, sparks=False)["p99_ms"])
        lag_first.append(tui.bench_lag(warm=False, sparks=True)["p99_ms"])
    return [
        Figure("start to first filled table, sparklines on (new user)", on["cold"], "s", 1.5),
        Figure("  the same without sparklines", off["cold"], "s", None),
        Figure("start to first filled table, sparklines on (later starts)", on["warm"], "s", 1.5),
        Figure("  the same without sparklines", off["warm"], "s", None),
        Figure("loop lag p99, later refresh of 8,000 names, sparklines on", lag_on, "ms", 20),
        Figure("  the same without sparklines", lag_off, "ms", None),
        Figure("loop lag p99, first refresh of 8,000 names, sparklines on", lag_first, "ms", 20),
    ]


def keys() -> list[Figure]:
    """Re-sorting SPX's 38,042-contract drill-down (`s`), key to screen on a pseudo-terminal;
    one frame at 60 Hz is 16.7 ms."""
    figures = []
    for loaded, label in ((True, "a busy loop per core"), (False, "no added load")):
        r = keypress.bench_keys(loaded=loaded)
        figures += [
            Figure(
                f"s on 38,042 contracts, {label}: key to screen, median",
                r["screen_median_ms"],
                "ms",
                None,
            ),
            Figure(
                f"s on 38,042 contracts, {label}: key to screen, max",
                r["screen_max_ms"],
                "ms",
                None,
            ),
            Figure("  the UI thread's work (sort + frame), median", r["ui_median_ms"], "ms", 16.7),
            Figure("  the sort itself, max", r["sort_max_ms"], "ms", 16.7),
            Figure("  keys skipped or repeated", r["wrong"], "", 0),
        ]
    return figures


def memory(runs: int = 3) -> list[Figure]:
    """The app's resident memory after a simulated hour (60 refreshes, every limit it does not
    measure lifted), at the built-in universe's 546 symbols and at 8,000, and its worker
    processes at 546; then the simulated market's own process by universe size."""
    figures: list[Figure] = []
    workers: dict[str, list[float]] = {}
    for size, label in ((0, "546"), (8000, "8,000")):
        results = [tui.bench_memory(size) for _ in range(runs)]
        figures += [
            Figure(
                f"app resident after a simulated hour, {label} symbols",
                [r["rss_mb"] for r in results],
                "MB",
                150,
            ),
            Figure("  its peak", [r["peak_mb"] for r in results], "MB", None),
            Figure(
                "  refreshes in the hour (one a simulated minute: 60)",
                [float(r["refreshes"]) for r in results],
                "",
                None,
            ),
        ]
        if size == 0:
            for r in results:
                for name, status in r["workers"].items():
                    workers.setdefault(name, []).append(status["VmRSS"])
    for name in ("market", "parse worker"):
        if name in workers:
            figures.append(
                Figure(f"{name} process resident at the end, 546 symbols", workers[name], "MB", 60)
            )
    market = simmarket.bench_market_memory(runs=runs)
    for size, r in market.items():
        figures += [
            Figure(
                f"simulated market's process resident, {size:,} symbols",
                [max(a, b) for a, b in zip(r["rss_mb"], r["rss_next_day_mb"], strict=True)],
                "MB",
                200 if size == 16000 else None,
            ),
            Figure("  its peak", r["peak_mb"], "MB", None),
            Figure("  /api_usage answered after start", r["api_usage_s"], "s", None),
            Figure("  first quotes answered after start", r["first_quote_s"], "s", None),
        ]
    return figures


def chain() -> list[Figure]:
    r = options.bench_chain()
    label = f"{r['contracts']:,}-contract chain ({r['mb']:.0f} MB)"
    return [
        Figure(f"parse + aggregate + store a {label}", r["msgspec_ms"], "ms", 250),
        Figure("the same path with json.loads", r["json_ms"], "ms", None),
        Figure(
            "speed-up over json.loads, every run",
            r["speedup"],
            "x",
            2,
            lower_is_better=False,
            every_run=True,
        ),
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


def streaming() -> list[Figure]:
    r = stream.bench_stream()
    s, p = r["stream"], r["poll"]
    return [
        Figure("price change to the row on screen, streamed, p50", s["p50_s"], "s", 1.0),
        Figure("the same, streamed, p99", s["p99_s"], "s", 2.0),
        Figure("the same, polled (1,597 credits, 60 s interval), p50", p["p50_s"], "s", None),
        Figure("the same, polled, p99", p["p99_s"], "s", None),
        Figure(f"event-loop lag p99, {r['symbols']} symbols streaming", r["loop_p99_ms"], "ms", 20),
        Figure("CPU of the app's process meanwhile", r["cpu_pct"], "%", None),
    ]


def detection() -> list[Figure]:
    """The 610-credit plan, mixed runners, three seeds' sessions pooled (bench/detect.py has
    all the plans), two at a time."""
    runs = detect.measure(
        [610],
        ["mixed"],
        size=8000,
        seed=(7, 11, 13),
        jobs=2,
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
    "imports": imports,
    "startup": startup,
    "lag": lag,
    "keys": keys,
    "memory": memory,
    "sparklines": sparklines,
    "chain": chain,
    "occ": occ,
    "credits": credits,
    "stream": streaming,
    "detect": detection,
}


def machine() -> str:
    """What the figures were measured on: CPU model, cores, memory, OS, Python."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    return (
        f"{model}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def compile_bytecode() -> None:
    """Write momoscan's bytecode before anything is timed, as every start after a user's first
    finds it: in a checkout run with PYTHONDONTWRITEBYTECODE set (as on the development VM),
    every module edited since its last .pyc would otherwise be compiled again in each timed
    process (tens of milliseconds of imports and start-up that no user pays twice)."""
    import compileall

    import momoscan

    compileall.compile_dir(Path(momoscan.__file__).parent, quiet=1)


def main(argv: list[str]) -> int:
    wanted = argv or list(BENCHES)
    unknown = [w for w in wanted if w not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
        return 2
    console = Console()
    console.print(f"[bold]machine:[/] {machine()}", highlight=False)
    compile_bytecode()
    table = Table(title="momoscan benchmarks (min / median / max of the runs)")
    for col in ("figure", "measured", "target", ""):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for name in wanted:
        started = time.perf_counter()
        ticks = host.cpu_ticks()
        console.print(f"[dim]running {name}...[/]")
        for f in BENCHES[name]():
            target = (
                "-"
                if f.target is None
                else f"{'≤' if f.lower_is_better else '≥'} {f.target:g} {f.unit}"
            )
            mark = "" if f.ok is None else ("[green]ok[/]" if f.ok else "[red]over[/]")
            table.add_row(f.name, f.measured(), target, mark)
            # Each figure as it comes too, on one line: a long run that fails late keeps them.
            console.print(
                f"  {f.name}: {f.measured()} ({target}) {mark}", highlight=False, soft_wrap=True
            )
        share = host.steal_share(ticks, host.cpu_ticks())
        stolen = "" if share is None else f"; the host withheld {share:.0%} of the CPU time asked"
        console.print(f"[dim]{name} took {time.perf_counter() - started:.0f} s{stolen}[/]")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
