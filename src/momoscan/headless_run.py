"""The headless runs: `--headless` (a cycle a line until stopped), `--once` (one cycle and
the tables, for cron) and `momoscan collect` (the headless loop under a name that says it).

Each comes through `attach`: it collects when no other process collects for its database;
beside a collector, `--once` prints what that one stored (and how fresh) without spending a
credit, and the loop waits to take over.

Exit codes: 0 ok; 1 the refresh failed; 2 usage or config error; 3 with
--exit-code-on-new-entrant, a new name entered the daily options top 10; 4 with
--exit-code-on-alert, an alert rule fired.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import orjson
from rich.console import Console
from rich.status import Status
from rich.text import Text

from . import format as fmt
from . import headless, queries
from . import market_hours as mh
from .attach import attach
from .collector import Collector
from .config import Settings
from .engine import RefreshReport
from .entrants import SCANNER
from .exits import EXIT_ALERT, EXIT_FAILED, EXIT_NEW_ENTRANT, EXIT_OK
from .models import AlertEvent, Leader, Progress
from .notify import DesktopNotifier
from .role import CollectorState
from .runtime import RunOptions, Runtime
from .store import Store, StoreError
from .viewer import Viewer

log = logging.getLogger(__name__)

__all__ = [
    "EXIT_ALERT",
    "EXIT_FAILED",
    "EXIT_NEW_ENTRANT",
    "EXIT_OK",
    "headless_loop",
    "headless_once",
]


def _context(now: datetime, mode: str, universe: str, settings: Settings) -> headless.Context:
    session = mh.session_at(now).value
    if mode == "demo":
        session += " (simulated clock)"
    return headless.Context(
        mode=mode,
        market_time=now,
        session=session,
        cap_tiers=list(settings.universe.cap_tiers),
        min_price=settings.universe.min_price,
        universe_description=universe,
        min_float=settings.scan.min_float,
        max_float=settings.scan.max_float,
    )


def _run_context(rt: Runtime, settings: Settings) -> headless.Context:
    return _context(rt.clock.now(), rt.mode.name, rt.engine.universe.describe(), settings)


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
            floats=settings.scan.float_bounds,
            move_pct=settings.record.move_pct,
            min_sample=settings.record.min_sample,
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


async def headless_once(settings: Settings, args: argparse.Namespace, options: RunOptions) -> int:
    """One cycle of bounded cost and the tables (`--once`), or, beside a collector, what it
    stored; the exit code."""
    # Messages are whole lines, never wrapped: cron mails them, scripts grep them.
    err = Console(stderr=True, soft_wrap=True)

    async def collect(collector: Collector) -> int:
        return await _once_collect(collector, settings, args, err)

    async def view(viewer: Viewer) -> int:
        return await anyio.to_thread.run_sync(_once_view, viewer, settings, args, err)

    return await attach(settings, options, command="momoscan --once", collect=collect, view=view)


async def _once_collect(
    collector: Collector, settings: Settings, args: argparse.Namespace, err: Console
) -> int:
    rt = collector.rt
    out = Console(soft_wrap=False, width=output_width(args))
    progress = ProgressPrinter(err)
    if rt.mode.demo:
        _demo_notice(err, rt)
    try:
        async with anyio.create_task_group() as tg:
            # A new demo database's simulated past, beside the cycle (made where the market
            # runs, written between the cycle's writes): the records show in this output.
            tg.start_soon(_seed_past, rt)
            report = await collector.refresh(
                progress,
                full=args.full,
                force=args.force,
                refresh_universe=args.refresh_universe,
                now_only=not args.full,
            )
    finally:
        progress.stop()
    ctx = _run_context(rt, settings)
    note = rt.engine.credit_note
    market_now = rt.clock.now().timestamp()
    await DesktopNotifier(enabled=settings.alerts.desktop).notify(report.alerts)
    scheduler = rt.engine.scheduler
    coverage = scheduler.coverage()
    # One line a cause (cron mails stderr): a source failing one way for many items is one
    # line with their count and range; then the notes.
    failed = report.grouped_lines()
    bounded = []
    if not args.full and 0 < report.quotes < report.symbols:
        bounded.append(
            f"one minute of credits: {report.quotes:,} of {report.symbols:,} names quoted "
            "(the scheduler's choice: the hot set and the stalest); --full sweeps them all"
        )
    for message in [
        *([report.fatal] if report.fatal else []),
        *failed,
        *report.messages,
        *bounded,
    ]:
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
        doc["collector"] = {"role": "collector", "full": bool(args.full)}
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


def freshness(state: CollectorState | None, wall: float) -> str:
    """How fresh a collector's data is, in words: `last cycle 12s ago, 3 cycles since 09:41`."""
    if state is None:
        return "it has not published its state yet"
    if state.last_cycle_at is None:
        text = "its first cycle is under way" if state.refreshing else "no cycle finished yet"
    else:
        text = f"its last cycle finished {fmt.age(wall - state.last_cycle_at)} ago"
        if state.last_status and state.last_status != "ok":
            text += f" ({state.last_status})"
    if state.age(wall) > 10:
        text += f"; it has not published for {fmt.age(state.age(wall))}"
    return text


#: The width of text output for a file or a mail (no terminal, no COLUMNS): wide enough for
#: every table, its bars and its title, whole.
WIDE = 240


def output_width(args: argparse.Namespace, stream: Any = None) -> int | None:
    """The text output's width in cells: `--width`; else the terminal's (None: Rich asks it);
    else `COLUMNS` when set; else `WIDE`."""
    if getattr(args, "width", None):
        return int(args.width)
    stream = stream if stream is not None else sys.stdout
    if stream.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return WIDE


def _once_view(viewer: Viewer, settings: Settings, args: argparse.Namespace, err: Console) -> int:
    """`--once` beside a collector: what it stored, how fresh, nothing spent (on a thread)."""
    out = Console(soft_wrap=False, width=output_width(args))
    state = viewer.state
    wall = time.time()
    market = viewer.clock.now() if state is not None else datetime.now(mh.ET)
    db_path = viewer.db_path
    err.print(
        f"momoscan: {viewer.collector} collects for {db_path}: showing what it stored, "
        f"no credits spent; {freshness(state, wall)}.",
        markup=False,
        highlight=False,
    )
    mode = state.mode if state is not None else "live"
    ctx = _context(market, mode, state.universe if state is not None else "", settings)
    snap = read_snapshot(db_path, settings, market.timestamp())
    fired = unreported_alerts(db_path, mh.current_trading_day(market))
    if args.json:
        history, unusual = _extras(db_path, settings, snap)
        doc = headless.to_json(
            snap,
            ctx,
            history=history,
            unusual=unusual,
            alerts=[e for e in fired if e.rule != SCANNER],
            scanner=[e for e in fired if e.rule == SCANNER],
            alerts_today=alerts_today(db_path, market.timestamp()),
        )
        doc["collector"] = {
            "role": "viewer",
            "who": viewer.collector,
            "pid": state.pid if state is not None else None,
            "last_cycle_age_seconds": (
                None
                if state is None or state.last_cycle_at is None
                else round(wall - state.last_cycle_at, 1)
            ),
            "credits_used": state.credits_used if state is not None else None,
            "plan_limit": state.plan_limit if state is not None else None,
            "stream": state.stream if state is not None else "",
        }
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_alerts(out, fired)
        headless.print_tables(out, snap, ctx)
    if state is not None and state.error:
        # What it shows may be stale: a cron job beside a failing collector should hear of it.
        err.print(f"momoscan: the collector's last cycle failed: {state.error}", markup=False)
        return EXIT_FAILED
    if args.exit_code_on_alert and any(e.rule != SCANNER for e in fired):
        return EXIT_ALERT
    entrants = [x for x in snap.leaders if x.is_new]
    if args.exit_code_on_new_entrant and unreported_entrants(db_path, entrants):
        return EXIT_NEW_ENTRANT
    return EXIT_OK


def unreported_alerts(db_path: Path, day: date) -> list[AlertEvent]:
    """What the collector fired since the last `--once` beside it reported (oldest first),
    now marked reported: a cron job mails each alert once. The first such run reports what
    fired on `day` (the market's trading day) so far."""
    with Store(db_path) as store:
        after = int(store.get_meta("reported_alert_id") or -1)
        fresh = queries.alerts_after(store, max(after, 0))
        if after < 0:
            fresh = [(i, e) for i, e in fresh if e.day == day]
        if fresh or after < 0:
            last = fresh[-1][0] if fresh else queries.last_alert_id(store)
            store.set_meta("reported_alert_id", str(last))
    return [event for _, event in fresh]


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


async def headless_loop(
    settings: Settings, args: argparse.Namespace, options: RunOptions, *, command: str
) -> int:
    """Collect until stopped (`--headless`, `momoscan collect`), a line a cycle; beside a
    collector, wait and take over when it stops."""
    err = Console(stderr=True, soft_wrap=True)

    async def collect(collector: Collector) -> int:
        return await _loop_collect(collector, settings, args, err)

    async def view(viewer: Viewer) -> None:
        err.print(
            f"momoscan: {viewer.collector} collects for {viewer.db_path}: this one waits "
            "and takes over when it stops (Ctrl-C to quit).",
            markup=False,
            highlight=False,
        )
        await viewer.follow(lambda _state: None, lambda: None)
        err.print(
            f"momoscan: {viewer.collector} stopped: collecting now.", markup=False, highlight=False
        )

    return await attach(settings, options, command=command, collect=collect, view=view)


async def _seed_past(rt: Runtime) -> None:
    """The demo's simulated past, into a database that has none yet (nothing in live mode)."""
    try:
        await rt.seed_demo_past()
    except Exception:
        log.exception("the demo's simulated past could not be written")


async def _seed_history(rt: Runtime) -> None:
    """The demo's session so far, beside the first cycle (as the terminal app does): so that a
    collector's viewers (serve's tabs, a TUI beside `momoscan collect`) see the day's path in
    their sparklines and charts, not a point. Nothing in live mode."""
    try:
        await rt.seed_demo_history()
    except Exception:
        log.exception("the demo's session so far could not be written")


async def _loop_collect(
    collector: Collector, settings: Settings, args: argparse.Namespace, err: Console
) -> int:
    rt = collector.rt
    interval = args.interval or settings.scan.refresh_interval
    out = Console(soft_wrap=True)
    progress = ProgressPrinter(err)
    async with anyio.create_task_group() as tg:
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
        tg.start_soon(_seed_history, rt)
        cycle = 0
        while True:
            cycle += 1
            started = time.monotonic()
            try:
                report = await collector.refresh(
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
                await collector.wait(max(1.0, interval - (time.monotonic() - started)))
                continue
            ctx = _run_context(rt, settings)
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
            await collector.wait(max(1.0, interval - (time.monotonic() - started)))
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
