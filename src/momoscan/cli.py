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
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.abc
import orjson
from rich.console import Console

from . import __version__
from .config import ConfigError, Settings, load_settings
from .exits import EXIT_ALERT, EXIT_FAILED, EXIT_NEW_ENTRANT, EXIT_OK, EXIT_USAGE
from .logs import setup_logging
from .redact import Redactor
from .run_options import RunOptions
from .store import StoreError
from .usage import Parser

__all__ = ["EXIT_ALERT", "EXIT_FAILED", "EXIT_NEW_ENTRANT", "EXIT_OK", "EXIT_USAGE", "main"]

#: The built-in universe's size, rounded as the README and --help give it (a test checks).
BUILTIN_STOCKS = 630

log = logging.getLogger(__name__)


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


def build_parser(*, collect: bool = False) -> argparse.ArgumentParser:
    """momoscan's options; with `collect`, those of `momoscan collect` (the headless loop:
    no --headless, --once, --full or exit-code flags)."""
    parser = Parser(
        prog="momoscan collect" if collect else "momoscan",
        description=(
            "Collect for a database with no screen: refresh every interval until stopped, a "
            "line a cycle (JSON with --json). One collector per database: beside a running "
            "one, this waits and takes over when it stops."
            if collect
            else "A terminal scanner for momentum day traders and options-flow watchers. "
            "Without API keys it runs on a built-in simulated market."
        ),
        epilog=(
            "Exit codes: 0 stopped (Ctrl-C, SIGTERM), 2 usage, config or database error at "
            "start. One cycle instead: momoscan --once."
            if collect
            else "Exit codes: 0 ok, 1 refresh failed, 2 usage or config error, "
            "3 new options top-10 entrant (with --exit-code-on-new-entrant), "
            "4 an alert rule fired (with --exit-code-on-alert). "
            "`momoscan collect` runs the headless loop as a service would (`momoscan collect "
            "--help`). "
            "`momoscan serve --help`, `momoscan check --help`, `momoscan alerts test "
            "--help` (push channels) and `momoscan record --help` (signals' track records) "
            "for the other commands."
        ),
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
        help="with --headless: one refresh cycle of at most a minute of credits (the "
        "scheduler picks the names), print, exit; beside a running collector, print what it "
        "stored and spend nothing",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="with --once: sweep the whole universe, however many minutes of credits it takes",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="with --headless: print JSON instead of tables (one line per cycle without --once)",
    )
    parser.add_argument(
        "--width",
        type=int,
        metavar="N",
        help="with --once: the tables' width in columns (default: the terminal's; without "
        "one, $COLUMNS, else wide enough for every table and title, whole)",
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
    if collect:
        for action in parser._actions:
            if set(action.option_strings) & set(NOT_FOR_COLLECT):
                action.help = argparse.SUPPRESS
            elif "--json" in action.option_strings:
                action.help = "print one JSON object a cycle instead of a line of text"
    return parser


#: Flags `momoscan collect` does not take (it is the headless loop).
NOT_FOR_COLLECT = (
    "--headless",
    "--once",
    "--full",
    "--width",
    "--exit-code-on-new-entrant",
    "--exit-code-on-alert",
)


def parse_args(argv: Sequence[str] | None, *, collect: bool = False) -> argparse.Namespace:
    parser = build_parser(collect=collect)
    args = parser.parse_args(argv)
    if collect:
        given = [f for f in NOT_FOR_COLLECT if getattr(args, f[2:].replace("-", "_"))]
        if given:
            hint = " (one cycle: momoscan --once)" if "--once" in given else ""
            parser.error(f"{given[0]} is not an option of momoscan collect{hint}")
        args.headless = True
    if args.once or args.json or args.exit_code_on_new_entrant or args.exit_code_on_alert:
        args.headless = True
    if args.full and not args.once:
        parser.error("--full needs --once")
    if args.width is not None and not args.once:
        parser.error("--width needs --once")
    if args.width is not None and not 40 <= args.width <= 1000:
        parser.error("--width must be between 40 and 1000")
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
    if argv[:1] == ["alerts"]:
        from .alerts_cli import alerts_main  # `momoscan alerts test`: Apprise on this path

        return alerts_main(argv[1:])
    if argv[:1] == ["record"]:
        from .record_cli import record_main  # `momoscan record`: plotext on this path

        return record_main(argv[1:])
    command = "momoscan"
    collect = argv[:1] == ["collect"]
    if collect:
        # The headless loop under a name that says what it does (services, serve).
        argv = argv[1:]
        command = "momoscan collect"
    if argv[:1] == ["serve"]:
        from .serve import serve_main  # textual-serve only on this path

        return serve_main(argv[1:])
    args = parse_args(argv, collect=collect)
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
            # The headless runs (and through them the runtime's world) only on this path.
            from .headless_run import headless_loop, headless_once

            runner = (
                functools.partial(headless_once, options=run_options(args))
                if args.once
                else functools.partial(
                    headless_loop,
                    options=run_options(args, stream=True),
                    command=command if command != "momoscan" else "momoscan --headless",
                )
            )
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
