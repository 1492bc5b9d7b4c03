"""Command line: argument parsing, the headless refresh and its output, exit codes.

Exit codes: 0 ok; 1 the refresh failed; 2 usage or config error; 3 with
--exit-code-on-new-entrant, a new name entered the daily options top 10; 4 with
--exit-code-on-alert, an alert rule fired.

The headless path never imports Textual; the TUI is imported only when it is asked for.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import anyio
import anyio.abc
import orjson
from rich.console import Console
from rich.status import Status
from rich.text import Text

from . import __version__, headless, queries
from . import market_hours as mh
from .config import ConfigError, Settings, load_settings
from .engine import RefreshReport
from .entrants import SCANNER
from .models import AlertEvent, Leader, Progress
from .notify import DesktopNotifier
from .redact import Redactor
from .runtime import RunOptions, Runtime, open_runtime, setup_logging
from .store import Store, StoreError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEW_ENTRANT = 3
EXIT_ALERT = 4

#: The built-in universe's size, rounded as the README and --help give it (a test checks).
BUILTIN_STOCKS = 630

log = logging.getLogger(__name__)


class Parser(argparse.ArgumentParser):
    """Usage errors in one line that points to --help (argparse's own print the whole usage
    block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def positive_number(text: str) -> float:
    """A finite number above 0, for --interval and --demo-speed ("nan" and "inf" parse as
    floats, and would spin or stop the clock)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="momoscan",
        description="A terminal scanner for momentum day traders and options-flow watchers. "
        "Without API keys it runs on a built-in simulated market.",
        epilog="Exit codes: 0 ok, 1 refresh failed, 2 usage or config error, "
        "3 new options top-10 entrant (with --exit-code-on-new-entrant), "
        "4 an alert rule fired (with --exit-code-on-alert). "
        "`momoscan serve --help` and `momoscan check --help` for the other commands.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $MOMOSCAN_CONFIG, then the platform config dir)",
    )
    parser.add_argument("--db", metavar="PATH", help="SQLite database file to use")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run on the simulated market even if API keys are configured",
    )
    parser.add_argument(
        "--demo-size",
        type=int,
        metavar="N",
        help=f"simulated universe size (0: the ~{BUILTIN_STOCKS} built-in real US stocks; "
        "more adds synthetic ones, up to 50000)",
    )
    parser.add_argument("--demo-seed", type=int, metavar="N", help="seed of the simulated market")
    parser.add_argument(
        "--demo-speed", type=positive_number, metavar="X", help="simulated seconds per real second"
    )
    parser.add_argument(
        "--demo-faults",
        metavar="SPEC",
        help='faults the simulated market serves, as the real services do: "all", "none", or '
        'names with rates like "td_5xx=0.2,occ_html" (default: [demo] faults)',
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="refresh without the terminal UI: one line a cycle (JSON with --json) until "
        "Ctrl-C; with --once, one cycle and the full tables (for cron)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="with --headless: run one full refresh cycle, print, exit",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="with --headless: print JSON instead of tables (one line per cycle without --once)",
    )
    parser.add_argument(
        "--interval",
        type=positive_number,
        metavar="SECONDS",
        help="seconds between refresh cycles (default: [scan] refresh_interval)",
    )
    parser.add_argument(
        "--force", action="store_true", help="spend API credits even while the market is closed"
    )
    parser.add_argument(
        "--refresh-universe",
        action="store_true",
        help="reload the universe now instead of once a trading day",
    )
    parser.add_argument(
        "--exit-code-on-new-entrant",
        action="store_true",
        help="with --headless --once: exit 3 when a new name enters the daily options top 10",
    )
    parser.add_argument(
        "--exit-code-on-alert",
        action="store_true",
        help="with --headless --once: exit 4 when an alert rule fired (once per crossing)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log more (to stderr headless)"
    )
    parser.add_argument("--version", action="version", version=f"momoscan {__version__}")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.once or args.json or args.exit_code_on_new_entrant or args.exit_code_on_alert:
        args.headless = True
    if args.exit_code_on_new_entrant and not args.once:
        parser.error("--exit-code-on-new-entrant needs --once")
    if args.exit_code_on_alert and not args.once:
        parser.error("--exit-code-on-alert needs --once")
    if args.demo_size is not None and not 0 <= args.demo_size <= 50_000:
        parser.error("--demo-size must be between 0 and 50000")
    if args.demo_faults is not None:
        from .simulated.faults import FaultPlan

        try:
            FaultPlan.parse(args.demo_faults)
        except ValueError as exc:
            parser.error(f"--demo-faults: {exc}")
    return args


def run_options(args: argparse.Namespace, *, stream: bool = False) -> RunOptions:
    return RunOptions(
        stream=stream,
        demo=args.demo,
        db=args.db,
        demo_size=args.demo_size,
        demo_seed=args.demo_seed,
        demo_speed=args.demo_speed,
        demo_faults=args.demo_faults,
    )


# ---------------------------------------------------------------------------------------------
# Headless


def _context(rt: Runtime, settings: Settings) -> headless.Context:
    now = rt.clock.now()
    session = mh.session_at(now).value
    if rt.mode.demo:
        session += " (simulated clock)"
    return headless.Context(
        mode=rt.mode.name,
        market_time=now,
        session=session,
        cap_tiers=list(settings.universe.cap_tiers),
        min_price=settings.universe.min_price,
        universe_description=rt.engine.universe.describe(),
    )


def read_snapshot(
    db_path: Path, settings: Settings, market_now: float | None = None
) -> queries.Snapshot:
    """One consistent read of what the output shows; quote ages against `market_now` (the
    market clock's Unix seconds: the simulated one in demo)."""
    with Store(db_path) as store:
        return queries.snapshot(
            store,
            settings.universe.cap_tiers,
            settings.universe.min_price,
            fresh_seconds=max(300.0, 3 * settings.scan.refresh_interval),
            unusual_ratio=settings.options.unusual_volume_oi,
            unusual_min_volume=settings.options.unusual_min_volume,
            market_now=market_now,
            chain_max_age=settings.options.chain_max_age,
        )


def _extras(
    db_path: Path, settings: Settings, snap: queries.Snapshot
) -> tuple[dict[Any, Any], list[dict[str, Any]]]:
    with Store(db_path) as store:
        history = queries.leaders_history(store, settings.options.lookback_days)
        unusual = []
        if snap.options_day:
            for row in queries.unusual_contracts(
                store,
                snap.options_day,
                unusual_ratio=settings.options.unusual_volume_oi,
                unusual_min_volume=settings.options.unusual_min_volume,
            ):
                unusual.append(row)
    return history, unusual


def report_json(report: RefreshReport, credit_note: str = "") -> dict[str, Any]:
    return {
        "credit_note": credit_note,
        "status": report.status,
        "symbols": report.symbols,
        "quotes": report.quotes,
        "errors": report.errors,
        "credits_used": report.credits_used,
        "chains": report.chains,
        "occ_days_fetched": report.occ_days,
        "duration_seconds": round(report.finished - report.started, 2),
        "messages": report.lines(),
        "failures": [
            {"source": f.source, "item": f.item, "message": f.message} for f in report.failures
        ],
        "new_entrants": [x.underlying for x in report.new_entrants],
        "alerts_fired": len(report.alerts),
    }


def _demo_notice(err: Console, rt: Runtime) -> None:
    notice = Text("Running on the simulated market", style="yellow")
    notice.append(f": {rt.mode.reason}.", style="")
    if rt.faults is not None:
        notice.append(f" Fault mode: {rt.faults.describe()}.", style="yellow")
    err.print(notice, highlight=False)


class ProgressPrinter:
    """Turns engine progress into one updating line on an interactive stderr."""

    def __init__(self, console: Console):
        self.console = console
        self.status: Status | None = None
        self.enabled = console.is_terminal

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        line = headless.progress_line(p.step, p.done, p.total, p.credits_used, p.errors, p.message)
        if self.status is None:
            self.status = self.console.status(line)
            self.status.start()
        else:
            self.status.update(line)
        if p.step == "done":
            self.stop()

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


async def _headless_once(settings: Settings, args: argparse.Namespace) -> int:
    out = Console(soft_wrap=False)
    # Messages are whole lines, never wrapped: cron mails them, scripts grep them.
    err = Console(stderr=True, soft_wrap=True)
    progress = ProgressPrinter(err)
    async with open_runtime(settings, run_options(args)) as rt:
        if rt.mode.demo:
            _demo_notice(err, rt)
        try:
            report = await rt.engine.refresh(
                progress, full=True, force=args.force, refresh_universe=args.refresh_universe
            )
        finally:
            progress.stop()
        ctx = _context(rt, settings)
        note = rt.engine.credit_note
        market_now = rt.clock.now().timestamp()
        await DesktopNotifier(enabled=settings.alerts.desktop).notify(report.alerts)
        scheduler = rt.engine.scheduler
        coverage = scheduler.coverage()
    # Every failed unit on a line of its own (cron mails stderr), then the notes.
    failed = [f.line() for f in report.failures]
    for message in [*([report.fatal] if report.fatal else []), *failed, *report.messages]:
        err.print(f"momoscan: {message}", markup=False, highlight=False)
    if note:
        err.print(f"momoscan: {note}", markup=False, highlight=False)
    snap = read_snapshot(rt.db_path, settings, market_now)
    if args.json:
        history, unusual = _extras(rt.db_path, settings, snap)
        doc = headless.to_json(
            snap,
            ctx,
            report=report_json(report, note),
            history=history,
            unusual=unusual,
            alerts=report.alerts,
            scanner=report.scanner,
            alerts_today=alerts_today(rt.db_path, market_now),
            why=scheduler.why,
            coverage=coverage,
        )
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        # The alerts first: what a cron mail's reader looks for.
        print_alerts(out, [*report.scanner, *report.alerts])
        headless.print_tables(out, snap, ctx)
    if report.failed:
        return EXIT_FAILED
    if args.exit_code_on_alert and report.alerts:
        return EXIT_ALERT
    if args.exit_code_on_new_entrant and unreported_entrants(rt.db_path, report.new_entrants):
        return EXIT_NEW_ENTRANT
    return EXIT_OK


def print_alerts(console: Console, events: Sequence[AlertEvent]) -> None:
    """Each alert on a line of its own, never wrapped (scripts grep for `ALERT`)."""
    for event in events:
        console.print(headless.alert_line(event), markup=False, highlight=False, soft_wrap=True)


def alerts_today(db_path: Path, market_now: float) -> list[AlertEvent]:
    """What the alert rules and the scanner fired on the market clock's trading day, newest
    first."""
    day = mh.current_trading_day(datetime.fromtimestamp(market_now, mh.ET))
    with Store(db_path) as store:
        return queries.alerts_on(store, day)


def unreported_entrants(db_path: Path, entrants: list[Leader]) -> list[Leader]:
    """The new entrants no earlier run has reported with exit code 3, now marked reported.

    A name stays NEW all day; a cron job running every five minutes should mail it once."""
    if not entrants:
        return []
    with Store(db_path) as store:
        seen = orjson.loads(store.get_meta("reported_entrants") or "{}")
        day = entrants[0].day.isoformat()
        already = set(seen.get(day, []))
        fresh = [x for x in entrants if x.underlying not in already]
        if fresh:
            store.set_meta(
                "reported_entrants",
                orjson.dumps({day: sorted(already | {x.underlying for x in fresh})}).decode(),
            )
    return fresh


async def _headless_loop(settings: Settings, args: argparse.Namespace) -> int:
    interval = args.interval or settings.scan.refresh_interval
    err = Console(stderr=True, soft_wrap=True)
    out = Console(soft_wrap=True)
    progress = ProgressPrinter(err)
    async with (
        open_runtime(settings, run_options(args, stream=True)) as rt,
        anyio.create_task_group() as tg,
    ):
        if rt.mode.demo:
            _demo_notice(err, rt)
        err.print(f"Refreshing every {interval:g} s; Ctrl-C to stop.", highlight=False)
        notifier = DesktopNotifier(enabled=settings.alerts.desktop)
        # Alerts from streamed prices between cycles: printed at once (tables), or carried by
        # the next cycle's line (JSON, one document a line).
        between: list[AlertEvent] = []

        def on_alerts(events: Sequence[AlertEvent]) -> None:
            if args.json:
                between.extend(events)
            else:
                for event in events:
                    out.print(
                        headless.alert_line(event), markup=False, highlight=False, soft_wrap=True
                    )
            rules = [e for e in events if e.rule != SCANNER]
            if rules:
                tg.start_soon(notifier.notify, rules)

        rt.engine.alert_step.listen(on_alerts)
        tg.start_soon(rt.engine.run_stream)
        cycle = 0
        while True:
            cycle += 1
            started = time.monotonic()
            try:
                report = await rt.engine.refresh(
                    progress,
                    full=False,
                    force=args.force,
                    refresh_universe=args.refresh_universe and cycle == 1,
                )
            finally:
                progress.stop()
            try:
                snap = read_snapshot(rt.db_path, settings, rt.clock.now().timestamp())
            except (StoreError, sqlite3.Error) as exc:
                # A database that cannot be read now (locked, say) fails this cycle's output,
                # not the loop: say why, and try again at the next cycle.
                unread = f"cycle {cycle}: the tables could not be read ({exc}); trying again"
                for message in [*report.lines(), unread]:
                    err.print(f"momoscan: {message}", markup=False, highlight=False)
                await anyio.sleep(max(1.0, interval - (time.monotonic() - started)))
                continue
            ctx = _context(rt, settings)
            if report.alerts:
                tg.start_soon(notifier.notify, list(report.alerts))
            coverage = rt.engine.scheduler.coverage()
            if args.json:
                fired, between[:] = [*between, *report.scanner, *report.alerts], []
                doc = headless.to_json(
                    snap,
                    ctx,
                    report=report_json(report, rt.engine.credit_note),
                    alerts=[e for e in fired if e.rule != SCANNER],
                    scanner=[e for e in fired if e.rule == SCANNER],
                    why=rt.engine.scheduler.why,
                    coverage=coverage,
                    stream=rt.engine.stream_step.status(),
                )
                sys.stdout.write(orjson.dumps(doc).decode() + "\n")
                sys.stdout.flush()
            else:
                line = _cycle_line(cycle, report, snap, ctx)
                notes = [rt.engine.stream_step.status().line(snap.universe.size), coverage.line()]
                out.print(
                    "; ".join([line, *(n for n in notes if n)]), markup=False, highlight=False
                )
                for event in [*report.scanner, *report.alerts]:
                    out.print(
                        headless.alert_line(event), markup=False, highlight=False, soft_wrap=True
                    )
            for message in report.lines():
                err.print(f"momoscan: {message}", markup=False, highlight=False)
            await anyio.sleep(max(1.0, interval - (time.monotonic() - started)))
    # Not reached: the loop runs until Ctrl-C (a task group could end it, for mypy's sake).
    return EXIT_OK


def _cycle_line(
    cycle: int, report: RefreshReport, snap: queries.Snapshot, ctx: headless.Context
) -> str:
    clock = ctx.market_time.astimezone(mh.ET).strftime("%H:%M:%S ET")
    label = "DEMO" if ctx.mode == "demo" else "LIVE"
    lead = ""
    for which, rows in (("top gainer", snap.movers), ("top loser", snap.losers)):
        if rows and rows[0].change_pct is not None:
            lead += f"; {which} {rows[0].symbol} {rows[0].change_pct:+.1f}%"
    vol = snap.volume[0] if snap.volume else None
    lead += f"; top volume {vol.symbol}" if vol else ""
    return (
        f"{time.strftime('%H:%M:%S')} [{label} {clock} {ctx.session}] cycle {cycle} "
        f"{report.status}: {report.quotes} quotes, {report.errors} errors, "
        f"{report.credits_used} credits, {report.chains} chains; fresh "
        f"{snap.fresh}/{snap.universe.size}{lead}"
    )


# ---------------------------------------------------------------------------------------------


def build_check_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="momoscan check",
        description="Probe each configured live source once, cheaply (Twelve Data 2 credits, one "
        "Nasdaq Data Link page, one Cboe chain, one OCC day) and say how it answered: reached, "
        "key accepted, plan limits, how the answer parsed, the data's age. Run it first; paste "
        "its output into a bug report.",
        epilog="Exit codes: 0 all configured sources answered well, 1 otherwise, 2 usage or "
        "config error.",
    )
    parser.add_argument("--config", metavar="PATH", help="config file (as for momoscan)")
    parser.add_argument(
        "--demo", action="store_true", help="probe the simulated market instead (no network)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more, to stderr")
    return parser


def check_main(argv: Sequence[str]) -> int:
    """`momoscan check`: see check.py."""
    from . import check

    args = build_check_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings, to_stderr=True, verbose=args.verbose)
    transport: Any = None
    clock: Any = None
    api_key = None
    if args.demo:
        from .clock import FixedClock
        from .runtime import DEMO_KEY, demo_clock
        from .simulated.market import SimMarket
        from .simulated.transport import SimulatedMarketTransport

        clock = FixedClock(demo_clock(settings, RunOptions()).now())
        market = SimMarket(settings.demo.seed, settings.demo.size, clock)
        transport = SimulatedMarketTransport(
            market, plan_limit=settings.demo.plan_limit, latency=0.0
        )
        api_key = DEMO_KEY
    probes = anyio.run(
        functools.partial(
            check.run_checks, settings, transport=transport, clock=clock, api_key=api_key
        )
    )
    if args.json:
        doc = check.to_json(probes, simulated=args.demo)
        text = Redactor.from_settings(settings)(
            orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
        )
        sys.stdout.write(text + "\n")
    else:
        check.print_checks(Console(soft_wrap=False), probes, simulated=args.demo)
    return EXIT_OK if check.all_ok(probes) else EXIT_FAILED


async def _until_stopped(runner: Any, settings: Settings, args: argparse.Namespace) -> int:
    """Run a headless `runner` until it ends, or until Ctrl-C (SIGINT) or SIGTERM (kill, a
    service manager, a container stopping): then it is cancelled, the runtime closes its
    worker processes and the database, and momoscan says so in one line and exits 0; no
    traceback, no leaked semaphores. SIGINT is left alone when it was ignored at start (a
    background job of a non-interactive shell)."""
    watched = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        watched.append(signal.SIGINT)
    result = EXIT_OK
    stopped = False

    async def run(tg: anyio.abc.TaskGroup) -> None:
        nonlocal result
        result = await runner(settings, args)
        tg.cancel_scope.cancel()

    async def watch(tg: anyio.abc.TaskGroup) -> None:
        nonlocal stopped
        with anyio.open_signal_receiver(*watched) as signals:
            async for _ in signals:
                stopped = True
                tg.cancel_scope.cancel()
                return

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, tg)
            tg.start_soon(run, tg)
    except BaseExceptionGroup as group:
        # The run's own error (a database, config or usage error), as if it ran alone.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    if stopped:
        print("momoscan: stopped.", file=sys.stderr)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check"]:
        return check_main(argv[1:])
    if argv[:1] == ["serve"]:
        from .serve import serve_main  # textual-serve only on this path

        return serve_main(argv[1:])
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.interval:
        settings.scan.refresh_interval = args.interval
    setup_logging(settings, to_stderr=args.headless, verbose=args.verbose)
    try:
        if args.headless:
            runner = _headless_once if args.once else _headless_loop
            return anyio.run(_until_stopped, runner, settings, args)
        from .tui.app import run_app  # Textual only on this path

        return run_app(settings, run_options(args, stream=True), force=args.force)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"momoscan: database error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:
        # The database went wrong under a running refresh (locked too long, disk full).
        print(
            f"momoscan: database error: {exc}; check the file and the disk, or point --db "
            "at another file",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("momoscan: stopped.", file=sys.stderr)
        return EXIT_OK
