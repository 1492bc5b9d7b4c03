"""The terminal UI: live top movers and top volume, the options volume panel, drill-down,
history, chart key and alerts.

One long-lived worker owns the runtime and loops: refresh, then wait for the interval or a
"refresh now". The engine reports progress through a callback, which becomes messages here;
the screen reads the store on its own thread (never on the event loop), at most a couple of
times a second while a refresh streams in, so keys stay responsive throughout. Once a second
a tick ages every row, the card and the status bar from the same market-clock reading.

Each screen declares its own keys (screens/); the app's are only those that work everywhere:
help, quit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec

import anyio

# anyio loads its asyncio backend on first use (25 ms of imports): here, with the app's other
# imports, rather than on the event loop as the first screen comes up.
import anyio._backends._asyncio
from textual import work
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from .. import format as fmt
from .. import market_hours as mh
from .. import queries
from ..attach import attach
from ..collector import Collector
from ..config import ConfigError, Settings
from ..engine.store_thread import StoreThread
from ..entrants import SCANNER
from ..models import AlertEvent, Progress, Tick
from ..notify import GROUP_OVER, DesktopNotifier
from ..role import STALE_AFTER, CollectorState
from ..rowfacts import float_filter_text
from ..run_options import RunOptions
from ..store import StoreError
from ..viewer import Viewer
from .hangup import hangup_safe, resume_only_after_stop
from .messages import RefreshFinished, RefreshProgress
from .openers import ScreenOpeners
from .screens.alerts import AlertsScreen
from .screens.chart import ChartScreen
from .screens.contracts import ContractsScreen
from .screens.dialogs import COLUMN_LEGEND, HelpScreen, SymbolScreen, help_rows
from .screens.halts import HaltsScreen
from .screens.history import HistoryScreen
from .screens.main import MainScreen
from .screens.record import RecordScreen, read_record
from .screens.watchlist import WatchlistScreen

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)

#: While a refresh streams in, re-read the store at most this often.
READ_EVERY = 0.7
#: Refresh progress is redrawn at most this often (seconds), the newest always within it: a
#: sweep of 8,000 names reports some 70 batches in a second or two, and a frame each would
#: take the event loop's turns from keys and the tables.
PROGRESS_EVERY = 0.1

_P = ParamSpec("_P")


def while_live(
    method: Callable[Concatenate[MomoscanApp, _P], None],
) -> Callable[Concatenate[MomoscanApp, _P], None]:
    """For what reaches the widgets from outside the UI (a refresh's progress and end,
    streamed ticks, a read's result, alerts, the clock's tick): nothing once the app is
    closing. Textual tears the screens down while the last messages, workers and callbacks
    still run; a handler that queried a widget then would raise NoMatches at exit."""

    @functools.wraps(method)
    def guarded(app: MomoscanApp, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        if app.live:
            method(app, *args, **kwargs)

    return guarded


SCREEN_TITLES = {
    MainScreen: "momoscan: top movers and volume of your universe, and where options volume goes",
    ContractsScreen: "The drill-down: an underlying's option contracts",
    HistoryScreen: "History: the daily options top 10",
    SymbolScreen: "A symbol's card",
    ChartScreen: "The chart screen: a symbol's day",
    AlertsScreen: "Alerts today",
    HaltsScreen: "Halts today",
    WatchlistScreen: "Your watchlist",
    RecordScreen: "Signals' track records",
}


class MomoscanApp(ScreenOpeners):
    # Absolute, so that subclasses defined elsewhere (benchmarks) find it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "momoscan"
    # Every action has its key; the palette's entry would take footer room from them.
    ENABLE_COMMAND_PALETTE = False
    #: Read and draw each table row's sparkline with every read of the store (off: the
    #: benchmarks' control).
    SPARKLINES = True
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help", tooltip="the keys of this screen"),
        Binding("q", "quit", "Quit", id="quit", tooltip="quit"),
        Binding("ctrl+c", "quit", "Quit", id="interrupt", show=False, tooltip="quit"),
        Binding(
            "R",
            "record",
            "Record",
            id="record",
            show=False,
            tooltip="each signal's track record: what followed it before",
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        options: RunOptions,
        *,
        force: bool = False,
        wall: Callable[[], float] | None = None,
        handle_signals: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.options = options
        self.force = force
        self.wall = wall or options.wall
        self.handle_signals = handle_signals
        tiers = tuple(settings.universe.cap_tiers)
        self.tier_filters = [tiers] + ([(t,) for t in tiers] if len(tiers) > 1 else [])
        self.tier_index = 0
        self.runtime: Runtime | None = None
        #: This process's collector, or the viewer of another's (one of them, once started).
        self.collector: Collector | None = None
        self.viewer: Viewer | None = None
        #: This process viewed another collector before it took over.
        self.viewed = False
        self.reader: StoreThread | None = None
        self.snapshot: queries.Snapshot | None = None
        self.refreshes = 0
        #: When the next refresh starts (wall clock), unless asked for sooner.
        self._next_refresh_at = 0.0
        self._reading = False
        self._read_again = False
        self._last_read = 0.0
        self._progress_shown = 0.0  # wall clock of the last progress redraw
        self._progress_due = False  # a redraw of newer progress is scheduled
        self.opened_urls: list[str] = []
        #: The scanner's own alerts shown this session (top movers and volume, options top 10;
        #: the engine keeps them in the database with the rules' alerts). Tests read it.
        self.scanner_alerts: list[AlertEvent] = []
        #: Every rule alert shown this session (tests read it).
        self.rule_alerts: list[AlertEvent] = []
        self.notifier = DesktopNotifier(enabled=settings.alerts.desktop)
        #: The demo's session so far is in the store (and was read), or there is none to add.
        self.history_seeded = False

    # -- layout ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return MainScreen(self.settings.scan.movers, watch_size=self.settings.options.watch_size)

    @property
    def live(self) -> bool:
        """The app runs and its main screen is up (not yet torn down at exit)."""
        return self.is_running and self.main.is_attached

    @property
    def current_tiers(self) -> tuple[str, ...]:
        return self.tier_filters[self.tier_index]

    def start(self) -> None:
        """The main screen is up: show the status, start the tick and the refresh worker."""
        status = self.main.status
        status.state.demo = True
        status.state.tiers = self.current_tiers
        status.state.min_price = self.settings.universe.min_price
        status.state.float_filter = float_filter_text(*self.settings.scan.float_bounds)
        status.show(self.wall())
        if self.handle_signals:
            # SIGTERM (a service manager, `kill`) and SIGHUP (the terminal closed) end the app
            # as `q` does: the worker processes stop, the terminal is restored, exit 0.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.exit)
            resume_only_after_stop(self)
        self.set_interval(1.0, self._tick)
        self.refresh_loop()

    # -- the refresh worker ------------------------------------------------------------------

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def refresh_loop(self) -> None:
        """Collect for the database, or view it while another process collects (and take
        over when it goes): attach.py decides."""
        try:
            await attach(
                self.settings,
                self.options,
                command="momoscan",
                collect=self._collect,
                view=self._view,
                wall=self.wall,
            )
        except (StoreError, ConfigError) as exc:
            self.exit(2, message=f"momoscan: {exc}")

    async def _collect(self, collector: Collector) -> None:
        rt = collector.rt
        collector.notify = lambda text: self.notify(text, markup=False, timeout=4)
        self.runtime = rt
        self.collector = collector
        self.reader = StoreThread(rt.db_path)
        await self.reader.start()
        status = self.main.status.state
        status.viewer = ""
        status.demo = rt.mode.demo
        status.faults = rt.faults.describe() if rt.faults is not None else ""
        status.universe = rt.engine.universe.describe()
        if rt.mode.demo and not self.viewed:
            self.notify(
                f"Running on the simulated market: {rt.mode.reason}.",
                title="DEMO",
                markup=False,
                timeout=8,
            )
        await self.read_snapshot()  # the last session's data, right away
        rt.engine.stream_step.listen(self._on_ticks)
        rt.engine.alert_step.listen(self.show_alerts)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(rt.engine.run_stream)
                tg.start_soon(self._seed_history, rt)
                await self._cycle(collector)
        finally:
            with anyio.CancelScope(shield=True):
                await self.reader.close()

    async def _view(self, viewer: Viewer) -> None:
        """Another process collects: show what it stores, until it goes (then collect)."""
        self.viewer = viewer
        self.reader = viewer.store
        self.viewed = True
        self.history_seeded = True  # the collector's to write
        status = self.main.status.state
        state = viewer.state
        status.viewer = viewer.collector
        if state is not None:
            status.demo = state.mode == "demo"
            status.faults = state.faults
            status.universe = state.universe
        self.notify(
            f"{viewer.collector} collects for this database: this window shows what it "
            "stores and spends no credits. It takes over if that one stops.",
            title="Viewer",
            markup=False,
            timeout=8,
        )
        await self.read_snapshot()
        try:
            await viewer.follow(self._on_collector, self.read_soon, self._viewed_alerts)
        finally:
            self.viewer = None
            self.reader = None
        self.notify(
            f"{viewer.collector} stopped: this window collects now.",
            title="Collector",
            markup=False,
            timeout=8,
        )

    @while_live
    def _on_collector(self, state: CollectorState) -> None:
        status = self.main.status.state
        status.viewer = self.viewer.collector if self.viewer is not None else ""
        status.demo = state.mode == "demo"
        status.refreshing = state.refreshing
        status.progress = Progress(*state.progress) if state.progress else None
        status.error = state.error
        status.stale = bool(state.error)
        age = state.age(self.wall())
        if age > STALE_AFTER and not state.stopped_at:
            status.error = f"the collector has not published for {fmt.age(age)}"
        if state.last_cycle_at:
            self._next_refresh_at = state.last_cycle_at + self.settings.scan.refresh_interval

    @while_live
    def _viewed_alerts(self, events: Sequence[AlertEvent]) -> None:
        """The collector's alerts, shown here too (its desktop notification is its own)."""
        self.show_alerts(events, desktop=False)

    async def _seed_history(self, rt: Runtime) -> None:
        """The demo's session so far (sparklines and charts with the day's path), beside the
        first refresh rather than before the first table; shown as soon as it is in."""
        try:
            if not self.viewed and await rt.seed_demo_history():
                await self.read_snapshot()
        except Exception:
            log.exception("the demo's session so far could not be written")
        self.history_seeded = True

    async def _cycle(self, collector: Collector) -> None:
        while True:
            status = self.main.status.state
            status.refreshing = True
            report = await collector.refresh(self._on_progress, full=False, force=self.force)
            self.refreshes += 1
            self._next_refresh_at = self.wall() + self.settings.scan.refresh_interval
            self.post_message(RefreshFinished(report))
            await self.read_snapshot()
            await collector.wait(self.settings.scan.refresh_interval)

    @while_live
    def _on_ticks(self, ticks: Sequence[Tick]) -> None:
        """The price stream's trades (every quarter second): onto the rows on show at once;
        the ranks follow at the next read of the store, at most every READ_EVERY seconds.
        The chart and the watchlist screens take them too, when they are on show."""
        screen = self.screen
        if isinstance(screen, ChartScreen):
            screen.apply_ticks(ticks)
        elif isinstance(screen, WatchlistScreen):
            screen.apply_ticks(ticks, self.market_epoch())
        if not self.main_visible:
            return
        self.main.apply_ticks(ticks, self.market_epoch())
        if self.wall() - self._last_read > READ_EVERY:
            self.read_soon()

    def _on_progress(self, progress: Progress) -> None:
        self.post_message(RefreshProgress(progress))

    @while_live
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "refresh" and event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("refresh loop stopped: %r", error)
            status = self.main.status.state
            status.error = f"Refresh stopped: {type(error).__name__}: {error}. Retrying in 10 s."
            status.stale = True
            self.set_timer(10.0, self.refresh_loop)

    @while_live
    def on_refresh_progress(self, message: RefreshProgress) -> None:
        status = self.main.status
        step_changed = status.state.progress is None or (
            status.state.progress.step != message.progress.step
        )
        status.state.progress = message.progress
        status.state.refreshing = message.progress.step != "done"
        now = self.wall()
        if step_changed or now - self._progress_shown >= PROGRESS_EVERY:
            self._show_progress()
        elif not self._progress_due:
            self._progress_due = True
            self.set_timer(PROGRESS_EVERY, self._show_progress)
        empty = self.snapshot is None or not self.snapshot.volume
        due = now - self._last_read > READ_EVERY
        # Behind a full screen (the drill-down, the history) the tables cannot be seen: the
        # read at the end of the cycle is enough (for alerts), and the screen the user is on
        # keeps the GIL; MainScreen reads again when it is back.
        if message.progress.step in ("quotes", "options") and (empty or due) and self.main_visible:
            # The first batch shows at once; after that, at most every READ_EVERY seconds.
            self.read_soon()

    @while_live
    def _show_progress(self) -> None:
        self._progress_due = False
        self._progress_shown = self.wall()
        self.main.status.show(self._progress_shown)

    @while_live
    def on_refresh_finished(self, message: RefreshFinished) -> None:
        report = message.report
        status = self.main.status.state
        status.refreshing = False
        if report.failed:
            status.error = report.summary() or "the refresh failed"
            status.stale = True
            self.notify(
                status.error, title="Refresh failed", severity="error", markup=False, timeout=10
            )
        else:
            status.stale = False
            status.error = "; ".join(report.lines()[:2])
        if report.scanner or report.alerts:
            self.show_alerts([*report.scanner, *report.alerts])
        self._tick()

    # -- alerts ------------------------------------------------------------------------------

    @while_live
    def show_alerts(self, events: Sequence[AlertEvent], *, desktop: bool = True) -> None:
        """What the engine found (after a cycle, or on streamed prices): the scanner's entries
        (top movers, top volume, options top 10) highlighted in their table; a notification
        each (and the bell, with [alerts] bell), one for a burst of either kind; the rules'
        alerts in one desktop notification where the system has a notification service;
        the alerts screen if it is on show."""
        scanner = [e for e in events if e.rule == SCANNER]
        rules = [e for e in events if e.rule != SCANNER]
        self.scanner_alerts.extend(scanner)
        self.rule_alerts.extend(rules)
        if scanner:
            self.main.mark_entered(scanner)
        for kind in (scanner, rules):
            if len(kind) > GROUP_OVER:
                # A rule without a symbol, or the open's reshuffle: one notification.
                names = ", ".join(dict.fromkeys(e.symbol for e in kind))
                self.alert(f"{names}. a lists them with what crossed.", title=f"{len(kind)} alerts")
            else:
                for event in kind:
                    self.alert(event.message, title=event.title)
        if rules and desktop and self.notifier.active:
            self.run_worker(self.notifier.notify(rules), group="desktop", exit_on_error=False)
        if isinstance(self.screen, AlertsScreen):
            self.run_worker(self._reload_alerts(), group="alerts", exit_on_error=False)

    # -- reading and showing -----------------------------------------------------------------

    @while_live
    def read_soon(self) -> None:
        """Read the store again (off the event loop) and show what it holds."""
        self.run_worker(self.read_snapshot(), group="read", exit_on_error=False)

    async def read_snapshot(self) -> None:
        """Read the store on the reader thread and show it; coalesces overlapping asks."""
        if self.reader is None:
            return
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        try:
            while True:
                self._read_again = False
                self._last_read = self.wall()
                opts = self.settings.options
                snap = await self.reader.call(
                    queries.snapshot,
                    self.current_tiers,
                    self.settings.universe.min_price,
                    fresh_seconds=max(300.0, 3 * self.settings.scan.refresh_interval),
                    unusual_ratio=opts.unusual_volume_oi,
                    unusual_min_volume=opts.unusual_min_volume,
                    now=self.wall(),
                    market_now=self.market_epoch(),
                    limit=max(queries.TOP_N, self.main.table_rows),
                    chain_max_age=opts.chain_max_age,
                    sparks=self.SPARKLINES,
                    floats=self.settings.scan.float_bounds,
                    move_pct=self.settings.record.move_pct,
                    min_sample=self.settings.record.min_sample,
                )
                self.show_snapshot(snap)
                if not self._read_again:
                    break
        finally:
            self._reading = False

    @while_live
    def show_snapshot(self, snap: queries.Snapshot) -> None:
        self.snapshot = snap
        status = self.main.status
        status.state.snapshot = snap
        self.main.show_snapshot(snap)
        self._tick()
        if isinstance(self.screen, HaltsScreen):
            self.run_worker(self._reload_halts(), group="halts", exit_on_error=False)

    def alert(self, message: str, *, title: str) -> None:
        self.notify(message, title=title, markup=False, timeout=12)
        if self.settings.alerts.bell:
            self.bell()

    @property
    def main_visible(self) -> bool:
        """The main screen is on show (alone, or under a dialog such as the help or a card)."""
        return self.screen is self.main or isinstance(self.screen, ModalScreen)

    @while_live
    def _tick(self) -> None:
        """Once a second (and after each read): the clock, the credits and every age move
        on, all from one reading of the market clock, so rows, card and status agree."""
        if not self.main_visible:
            return  # nothing of it is on show; MainScreen ticks again when it is back
        status = self.main.status
        market_now = self.market_epoch()
        # This process's collector as of now, or the one a viewer follows as it published.
        state: CollectorState | None = None
        if self.collector is not None:
            universe = status.state.snapshot.universe.size if status.state.snapshot else 0
            state = self.collector.current(universe)
        elif self.viewer is not None:
            state = self.viewer.state
        if state is not None:
            now = state.market_now(self.wall())
            market_now = now.timestamp()
            status.state.market_time = now
            status.state.session = mh.session_at(now)
            status.state.credits_used = state.credits_used
            status.state.plan_limit = state.plan_limit
            status.state.credit_note = state.credit_note
            status.state.stream = state.stream
            status.state.coverage = state.coverage
        status.state.tiers = self.current_tiers
        status.state.oldest_age = self.main.tick(market_now)
        status.show(self.wall())
        if isinstance(self.screen, SymbolScreen):
            self.screen.tick()

    # -- what the screens ask for ------------------------------------------------------------

    def refresh_now(self) -> None:
        if self.viewer is not None:
            viewer = self.viewer
            self.run_worker(self._ask_refresh(viewer), group="ask", exit_on_error=False)
            return
        if self.collector is not None:
            self.collector.refresh_now()
        self.notify("Refreshing now.", timeout=2)

    async def _ask_refresh(self, viewer: Viewer) -> None:
        try:
            await viewer.ask("refresh")
        except ValueError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.notify(f"Asked {viewer.collector} to refresh now.", markup=False, timeout=3)

    def cycle_tiers(self) -> None:
        self.tier_index = (self.tier_index + 1) % len(self.tier_filters)
        self._tick()
        self.notify(f"Cap tiers: {', '.join(self.current_tiers)}", timeout=3, markup=False)
        self.read_soon()

    def action_record(self) -> None:
        if not isinstance(self.screen, RecordScreen):
            self.run_worker(self._open_record(), group="record", exit_on_error=False)

    async def _open_record(self) -> None:
        if self.reader is None:
            self.notify("The records open once the database is open.", markup=False)
            return
        record = self.settings.record
        found, simulated = await self.reader.call(read_record, record.move_pct)
        if not isinstance(self.screen, RecordScreen):
            await self.push_screen(
                RecordScreen(
                    found,
                    move_pct=record.move_pct,
                    min_sample=record.min_sample,
                    simulated=simulated,
                )
            )

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        title = SCREEN_TITLES.get(type(screen), "momoscan")
        status = self.main.status.full_text() if screen is self.main else None
        columns = COLUMN_LEGEND if screen is self.main else ()
        self.push_screen(HelpScreen(title, help_rows(screen, self.BINDINGS), status, columns))


def run_app(settings: Settings, options: RunOptions, *, force: bool = False) -> int:
    app = MomoscanApp(settings, options, force=force, handle_signals=True)
    # A terminal closing while the app exits must not keep the process alive (tui/hangup.py).
    app.driver_class = hangup_safe(app.driver_class)
    result = app.run()
    return app.return_code or (result if isinstance(result, int) else 0)
