"""The terminal UI: live top movers and top volume, the options volume panel, drill-down,
history, chart key and alerts.

One long-lived worker owns the runtime and loops: refresh, then wait for the interval or a
"refresh now". The engine reports progress through a callback, which becomes messages here;
the screen reads the store on its own thread (never on the event loop), at most a couple of
times a second while a refresh streams in, so keys stay responsive throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

import anyio
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from .. import format as fmt
from .. import market_hours as mh
from .. import queries
from ..config import ConfigError, Settings
from ..engine import StoreThread
from ..links import NoChart, chart_url
from ..models import Progress, Ticker
from ..runtime import RunOptions, Runtime, open_runtime
from ..store import StoreError
from .messages import ChartRequested, RefreshFinished, RefreshProgress
from .screens.contracts import ContractsScreen
from .screens.dialogs import HelpScreen, JumpScreen, SymbolScreen
from .screens.history import HistoryScreen
from .widgets.fast_table import FastTable
from .widgets.options_panel import OptionsPanel, ShareBars
from .widgets.scan_table import ScanTable
from .widgets.status import StatusBar
from .widgets.treemap import Treemap

log = logging.getLogger(__name__)

#: While a refresh streams in, re-read the store at most this often.
READ_EVERY = 0.7


class MomoscanApp(App[int]):
    # Absolute, so that subclasses defined elsewhere (benchmarks) find it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "momoscan"
    BINDINGS = [
        Binding("r", "refresh_now", "Refresh", id="refresh"),
        Binding("f", "cycle_tiers", "Tiers", id="tiers"),
        Binding("slash", "jump", "Jump", id="jump"),
        Binding("o", "open_chart", "Chart", id="chart"),
        Binding("t", "toggle_treemap", "Treemap", id="treemap"),
        Binding("h", "history", "History", id="history"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        options: RunOptions,
        *,
        force: bool = False,
        wall: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.options = options
        self.force = force
        self.wall = wall or options.wall
        tiers = tuple(settings.universe.cap_tiers)
        self.tier_filters = [tiers] + ([(t,) for t in tiers] if len(tiers) > 1 else [])
        self.tier_index = 0
        self.runtime: Runtime | None = None
        self.reader: StoreThread | None = None
        self.snapshot: queries.Snapshot | None = None
        self.refreshes = 0
        self._refresh_now = anyio.Event()
        self._reading = False
        self._read_again = False
        self._last_read = 0.0
        self._alerted_leaders: set[tuple[date, str]] = set()
        self.opened_urls: list[str] = []

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="scans"):
            with Vertical(classes="scan-panel"):
                yield Static(
                    Text("Top movers · % change", style="bold"), classes="panel-title", markup=False
                )
                yield ScanTable(id="movers", clock=self.wall, market_clock=self.market_epoch)
            with Vertical(classes="scan-panel"):
                yield Static(
                    Text("Top volume · shares traded", style="bold"),
                    classes="panel-title",
                    markup=False,
                )
                yield ScanTable(id="volume", clock=self.wall, market_clock=self.market_epoch)
        yield OptionsPanel(id="options")
        yield Footer()

    def market_epoch(self) -> float:
        """The market clock in Unix seconds (the simulated one in demo): quotes' ages come from
        their source's clock and are measured against it."""
        return self.runtime.clock.now().timestamp() if self.runtime else self.wall()

    @property
    def current_tiers(self) -> tuple[str, ...]:
        return self.tier_filters[self.tier_index]

    def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        status.state.demo = True
        status.state.tiers = self.current_tiers
        status.state.min_price = self.settings.universe.min_price
        status.show(self.wall())
        self.query_one("#movers", ScanTable).focus()
        self.set_interval(1.0, self._tick)
        self.refresh_loop()

    def on_resize(self) -> None:
        self.query_one("#scans").set_class(self.size.width < 118, "stacked")

    # -- the refresh worker ------------------------------------------------------------------

    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def refresh_loop(self) -> None:
        try:
            async with open_runtime(self.settings, self.options) as rt:
                self.runtime = rt
                self.reader = StoreThread(rt.db_path)
                await self.reader.start()
                status = self.query_one(StatusBar).state
                status.demo = rt.mode.demo
                status.faults = rt.faults.describe() if rt.faults is not None else ""
                status.universe = rt.engine.universe.describe()
                if rt.mode.demo:
                    self.notify(
                        f"Running on the simulated market: {rt.mode.reason}.",
                        title="DEMO",
                        markup=False,
                        timeout=8,
                    )
                await self.read_snapshot()  # the last session's data, right away
                try:
                    await self._cycle(rt)
                finally:
                    with anyio.CancelScope(shield=True):
                        await self.reader.close()
        except (StoreError, ConfigError) as exc:
            self.exit(2, message=f"momoscan: {exc}")

    async def _cycle(self, rt: Runtime) -> None:
        while True:
            self._refresh_now = anyio.Event()
            status = self.query_one(StatusBar).state
            status.refreshing = True
            report = await rt.engine.refresh(self._on_progress, full=False, force=self.force)
            self.refreshes += 1
            self.post_message(RefreshFinished(report))
            await self.read_snapshot()
            with anyio.move_on_after(self.settings.scan.refresh_interval):
                await self._refresh_now.wait()

    def _on_progress(self, progress: Progress) -> None:
        self.post_message(RefreshProgress(progress))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "refresh" and event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("refresh loop stopped: %r", error)
            status = self.query_one(StatusBar).state
            status.error = f"Refresh stopped: {type(error).__name__}: {error}. Retrying in 10 s."
            status.stale = True
            self.set_timer(10.0, self.refresh_loop)

    def on_refresh_progress(self, message: RefreshProgress) -> None:
        status = self.query_one(StatusBar)
        status.state.progress = message.progress
        status.state.refreshing = message.progress.step != "done"
        status.show(self.wall())
        empty = self.snapshot is None or not self.snapshot.movers
        due = self.wall() - self._last_read > READ_EVERY
        if message.progress.step in ("quotes", "options") and (empty or due):
            # The first batch shows at once; after that, at most every READ_EVERY seconds.
            self.run_worker(self.read_snapshot(), group="read", exit_on_error=False)

    def on_refresh_finished(self, message: RefreshFinished) -> None:
        report = message.report
        status = self.query_one(StatusBar).state
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
        self.query_one(StatusBar).show(self.wall())

    # -- reading and showing -----------------------------------------------------------------

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
                )
                self.show_snapshot(snap)
                if not self._read_again:
                    break
        finally:
            self._reading = False

    def show_snapshot(self, snap: queries.Snapshot) -> None:
        self.snapshot = snap
        status = self.query_one(StatusBar)
        status.state.snapshot = snap
        stale = status.state.stale
        # Entries count only once a first refresh has filled the store.
        track = self.refreshes > 0
        movers = self.query_one("#movers", ScanTable)
        entered_movers = movers.update_rows(snap.movers, stale=stale, track=track)
        self.query_one("#volume", ScanTable).update_rows(snap.volume, stale=stale, track=track)
        title = Text()
        title.append("Options volume share", style="bold")
        if snap.options_day:
            title.append(
                f" · watch set of {len(snap.shares)} · {snap.options_day} · Cboe, 15 min delayed"
            )
        title.append(" · Enter: contracts · t: bars/treemap", style="dim")
        self.query_one(OptionsPanel).show(snap.shares, title)
        status.show(self.wall())
        for row in entered_movers:
            self.alert(
                f"{row.symbol} entered the top movers: {fmt.pct(row.change_pct)} at "
                f"{fmt.price(row.price)}, RVol {fmt.ratio(row.rvol)}",
                title="Top movers",
            )
        for leader in snap.leaders:
            key = (leader.day, leader.underlying)
            if leader.is_new and key not in self._alerted_leaders:
                self._alerted_leaders.add(key)
                self.alert(
                    f"{leader.underlying} is new in the daily options top 10 "
                    f"({leader.day}, #{leader.rank}): {leader.reason}",
                    title="Options top 10",
                )

    def alert(self, message: str, *, title: str) -> None:
        self.notify(message, title=title, markup=False, timeout=12)
        if self.settings.alerts.bell:
            self.bell()

    def _tick(self) -> None:
        """Once a second: the clock, the credits and the ages move even between reads."""
        status = self.query_one(StatusBar)
        rt = self.runtime
        if rt is not None:
            now = rt.clock.now()
            status.state.market_time = now
            status.state.session = mh.session_at(now)
            status.state.credits_used = rt.engine.budget.used()
            status.state.plan_limit = rt.engine.budget.limit
            status.state.credit_note = rt.engine.credit_note
            status.state.coverage = rt.engine.scheduler.coverage().line()
        status.state.tiers = self.current_tiers
        status.show(self.wall())

    # -- actions -----------------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        self._refresh_now.set()
        self.notify("Refreshing now.", timeout=2)

    def action_cycle_tiers(self) -> None:
        self.tier_index = (self.tier_index + 1) % len(self.tier_filters)
        for table in self.query(ScanTable):
            table.reset_tracking()  # a new filter shows other rows: they did not "enter"
        self._tick()
        self.notify(f"Cap tiers: {', '.join(self.current_tiers)}", timeout=3, markup=False)
        self.run_worker(self.read_snapshot(), group="read", exit_on_error=False)

    def action_toggle_treemap(self) -> None:
        self.query_one(OptionsPanel).toggle()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def _selected_symbol(self) -> str | None:
        focused = self.focused
        if isinstance(focused, ScanTable):
            return focused.selected_symbol
        if isinstance(focused, (ShareBars, Treemap)):
            return self.query_one(OptionsPanel).selected_key
        return self.query_one("#movers", ScanTable).selected_symbol

    async def _ticker_for(self, symbol: str) -> Ticker | None:
        """The universe's record, else the built-in listings (for options underlyings that
        are outside the universe: mega caps, ETFs, indexes)."""
        if self.reader is not None:
            found = await self.reader.call(queries.ticker, symbol)
            if found is not None:
                return found
        from ..simulated.universe import option_products, real_stocks

        for security in (*real_stocks(), *option_products()):
            if security.symbol == symbol:
                return security.ticker()
        return None

    def action_open_chart(self) -> None:
        symbol = self._selected_symbol()
        if symbol:
            self.run_worker(self.open_chart(symbol), group="chart", exit_on_error=False)

    def action_open_chart_for_screen(self) -> None:
        screen = self.screen
        if isinstance(screen, ContractsScreen):
            self.run_worker(self.open_chart(screen.underlying), group="chart", exit_on_error=False)

    def on_chart_requested(self, message: ChartRequested) -> None:
        self.run_worker(self.open_chart(message.symbol), group="chart", exit_on_error=False)

    async def open_chart(self, symbol: str) -> None:
        ticker = await self._ticker_for(symbol)
        try:
            if ticker is None:
                raise NoChart(f"{symbol} is not a known listing: no chart to open.")
            url = chart_url(ticker)
        except NoChart as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.opened_urls.append(url)
        self.open_url(url)
        # Also shown, for users on SSH whose browser cannot open here.
        self.notify(url, title=f"Chart: {symbol}", markup=False, timeout=10)

    def on_options_panel_drill(self, message: OptionsPanel.Drill) -> None:
        self.run_worker(self.open_contracts(message.underlying), group="drill", exit_on_error=False)

    async def open_contracts(self, underlying: str) -> None:
        snap = self.snapshot
        if self.reader is None or snap is None or snap.options_day is None:
            self.notify("No option chains yet.", markup=False)
            return
        opts = self.settings.options
        rows = await self.reader.call(
            queries.contracts,
            snap.options_day,
            underlying,
            unusual_ratio=opts.unusual_volume_oi,
            unusual_min_volume=opts.unusual_min_volume,
        )
        if not rows:
            self.notify(f"No contracts stored for {underlying} today.", markup=False)
            return
        total = sum(r.volume for r in rows)
        await self.push_screen(
            ContractsScreen(
                underlying, snap.options_day, rows, total, source_note="Cboe, 15 min delayed"
            )
        )

    def action_history(self) -> None:
        self.run_worker(self.open_history(), group="history", exit_on_error=False)

    async def open_history(self) -> None:
        if self.reader is None:
            return
        history = await self.reader.call(queries.leaders_history, 20)
        if not history:
            self.notify("No daily leaders yet: the first refresh fetches them.", markup=False)
            return
        await self.push_screen(
            HistoryScreen(history, include_etfs=self.settings.options.include_etfs)
        )

    def action_jump(self) -> None:
        self.push_screen(JumpScreen(), callback=self._jump_to)

    def _jump_to(self, symbol: str | None) -> None:
        if not symbol:
            return
        for table_id in ("#movers", "#volume"):
            table = self.query_one(table_id, ScanTable)
            if table.select_symbol(symbol):
                table.focus()
                return
        bars = self.query_one(ShareBars)
        if bars.select_key(symbol):
            if self.query_one(OptionsPanel).showing_treemap:
                self.query_one(OptionsPanel).toggle()
            bars.focus()
            return
        self.run_worker(self.show_symbol(symbol), group="jump", exit_on_error=False)

    async def show_symbol(self, symbol: str) -> None:
        ticker = await self._ticker_for(symbol)
        if ticker is None or self.reader is None:
            self.notify(f"{symbol} is not in the universe.", severity="warning", markup=False)
            return
        row = await self.reader.call(queries.scan_row, symbol, self.market_epoch())
        options_volume = None
        if self.snapshot is not None:
            options_volume = next(
                (s.total for s in self.snapshot.shares if s.underlying == symbol), None
            )
        why = self.runtime.engine.scheduler.why(symbol) if self.runtime is not None else ""
        choice = await self.push_screen_wait(
            SymbolScreen(ticker, row, options_volume, self.market_epoch(), why=why)
        )
        if choice == "chart":
            await self.open_chart(symbol)
        elif choice == "contracts":
            await self.open_contracts(symbol)

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        # Enter on a movers/volume row opens the chart (the options panel handles its own).
        if isinstance(event.table, ScanTable):
            self.run_worker(self.open_chart(event.key), group="chart", exit_on_error=False)


def run_app(settings: Settings, options: RunOptions, *, force: bool = False) -> int:
    app = MomoscanApp(settings, options, force=force)
    result = app.run()
    return app.return_code or (result if isinstance(result, int) else 0)
