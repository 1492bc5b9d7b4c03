"""The main screen: the status bar, the movers and volume tables, the options volume panel.

Its keys act on what it shows, and only here: the drill-down and the history screens declare
their own. Its layout follows the terminal: the tables side by side when each fits every
number column, else stacked; the tables take more rows and the options panel grows with the
height, and a table too narrow for all its columns leaves out whole columns, least useful
first, so that every number shown is whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from ... import format as fmt
from ... import market_hours as mh
from ...entrants import BOARDS, SCANNER
from ...marks import snapshot_marks
from ...models import AlertEvent, Tick
from ...queries import OTHERS, TOP_N, ShareRow, Snapshot
from ...rowfacts import snapshot_facts
from ..widgets import set_border_title
from ..widgets.fast_table import FastTable
from ..widgets.fitting import HIGH, LOW, MID, MUST, Part, fit_line
from ..widgets.options_panel import OptionsPanel, ShareBars
from ..widgets.scan_table import ScanTable
from ..widgets.status import StatusBar
from ..widgets.treemap import Treemap

if TYPE_CHECKING:
    from ..app import MomoscanApp

#: From this width the two tables sit side by side (each then fits every number column).
SIDE_BY_SIDE = 110
#: A table's border and header; the options panel's (its title is in the border).
TABLE_CHROME = 3
OPTIONS_CHROME = 3
#: The options panel keeps at least this many bars when the tables shrink to make room.
OPTIONS_FLOOR = 4
#: Rows of each table: fewer on a short terminal, more on a tall one.
MIN_ROWS, MAX_ROWS = 3, 30

MOVERS_MODES = ("moves", "gainers", "losers")
MOVERS_TITLES = {
    "moves": "Top movers · largest moves, up or down",
    "gainers": "Top gainers · % change",
    "losers": "Top losers · % change",
}
GAPPERS_TITLE = "Pre-market gappers · gap from the previous close · RVol: pre-market volume"


def plan_rows(width: int, height: int, option_rows: int) -> tuple[bool, int]:
    """(side by side?, rows a table shows) for a `width` x `height` terminal whose options
    panel has `option_rows` rows to show. The tables get their 10 rows when the options
    panel keeps OPTIONS_FLOOR bars (fewer rows otherwise); beyond what the options panel
    needs, extra height goes to the tables, up to MAX_ROWS."""
    side = width >= SIDE_BY_SIDE
    blocks = 1 if side else 2
    available = height - 3  # the status bar's two lines and the footer
    wanted = max(OPTIONS_FLOOR, option_rows)
    fit = (available - OPTIONS_CHROME - OPTIONS_FLOOR) // blocks - TABLE_CHROME
    rows = min(TOP_N, fit)
    if rows == TOP_N:
        spare = available - blocks * (TOP_N + TABLE_CHROME) - (OPTIONS_CHROME + wanted)
        rows += max(0, min(MAX_ROWS - TOP_N, spare // blocks))
    return side, max(MIN_ROWS, rows)


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh_now", "Refresh", id="refresh", tooltip="refresh now"),
        Binding(
            "f",
            "cycle_tiers",
            "Tiers",
            id="tiers",
            tooltip="cycle the cap-tier filter: all chosen tiers, then each alone",
        ),
        Binding(
            "m",
            "cycle_movers",
            "Movers",
            id="movers",
            tooltip="movers table: largest moves (up or down), gainers, losers",
        ),
        Binding(
            "slash",
            "jump",
            "Jump",
            id="jump",
            tooltip="jump to a symbol: its row, or a card with its quote",
        ),
        Binding(
            "o",
            "open_chart",
            "Chart",
            id="chart",
            tooltip="the highlighted symbol's TradingView chart",
        ),
        Binding("t", "toggle_treemap", "Map", id="treemap", tooltip="options: bars or treemap"),
        Binding(
            "w",
            "toggle_market",
            "Market",
            id="market",
            tooltip="options: the watch set, or the whole market (OCC, all US-listed options)",
        ),
        Binding(
            "h", "history", "History", id="history", tooltip="history of the daily options top 10"
        ),
        Binding(
            "z",
            "zoom",
            "Zoom",
            id="zoom",
            show=False,
            tooltip="zoom: the focused panel fills the screen (Escape restores it)",
        ),
        # The footer has no room left at 80 columns: these are in ? and the README.
        Binding(
            "c",
            "day_chart",
            "Day",
            id="day",
            show=False,
            tooltip="the chart screen: the highlighted symbol's day, price and volume",
        ),
        Binding("a", "alerts", "Alerts", id="alerts", show=False, tooltip="the alerts fired today"),
        Binding(
            "H",
            "halts",
            "Halts",
            id="halts",
            show=False,
            tooltip="today's trading halts and resumptions, and the SSR names",
        ),
        Binding(
            "l", "watchlist", "Watchlist", id="watchlist", show=False, tooltip="your watchlist"
        ),
        Binding(
            "plus",
            "watch_add",
            "Watch",
            id="watch",
            show=False,
            tooltip="add the highlighted symbol (or one you type) to the watchlist",
        ),
        Binding(
            "minus",
            "watch_remove",
            "Unwatch",
            id="unwatch",
            show=False,
            tooltip="remove the highlighted symbol from the watchlist",
        ),
    ]
    HELP_EXTRA = (
        ("Enter", "movers/volume: the symbol's chart; options: the underlying's contracts"),
        ("Tab / Shift+Tab", "next / previous panel"),
        ("↑ ↓ PgUp PgDn", "move in the focused panel (Home, End too)"),
    )

    def __init__(self, movers_mode: str = "moves", *, watch_size: int = 20) -> None:
        """`watch_size`: how many rows the options panel is expected to have, for the layout
        before the first read."""
        super().__init__()
        self.movers_mode = movers_mode if movers_mode in MOVERS_MODES else "moves"
        self.table_rows = TOP_N
        self._options_rows = watch_size
        self._gapping = False  # the movers table shows the pre-market gappers
        #: Held rather than queried: the app's handlers reach it while the screen is torn
        #: down at exit, when a query finds nothing.
        self.status = StatusBar(id="status")

    @property
    def momo(self) -> MomoscanApp:
        return cast("MomoscanApp", self.app)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.momo
        yield self.status
        with Horizontal(id="scans"):
            yield ScanTable(id="movers", clock=app.wall, market_clock=app.market_epoch)
            yield ScanTable(id="volume", clock=app.wall, market_clock=app.market_epoch)
        yield OptionsPanel(id="options")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._titles()
        self.query_one("#movers", ScanTable).focus()
        self.momo.start()

    def on_resize(self) -> None:
        self._layout()

    def on_screen_resume(self) -> None:
        # Back from the drill-down or the history: catch up on what was not drawn meanwhile.
        if self.momo.snapshot is not None:
            self.momo.read_soon()

    def _layout(self) -> None:
        width, height = self.size
        if not width or not height:
            return
        side, rows = plan_rows(width, height, self._options_rows)
        scans = self.query_one("#scans")
        scans.set_class(not side, "stacked")
        for table in self.query(ScanTable):
            table.styles.height = rows + TABLE_CHROME
        scans.styles.height = (1 if side else 2) * (rows + TABLE_CHROME)
        zoomed = self.maximized
        if isinstance(zoomed, ScanTable):
            # Zoomed: the table takes the screen but the footer, and shows as many rows.
            zoomed.styles.height = height - 1
            rows = min(MAX_ROWS, max(rows, height - 1 - TABLE_CHROME))
        if rows != self.table_rows:
            grew = rows > self.table_rows
            self.table_rows = rows
            snap = self.momo.snapshot
            if snap is not None:
                self._show_tables(snap)
            if grew:
                self.momo.read_soon()  # more rows to show than the last read holds

    def _titles(self) -> None:
        movers = self.query_one("#movers", ScanTable)
        title = Text(
            GAPPERS_TITLE if self._gapping else MOVERS_TITLES[self.movers_mode], style="bold"
        )
        following = MOVERS_MODES[(MOVERS_MODES.index(self.movers_mode) + 1) % len(MOVERS_MODES)]
        title.append(f" · m: {following}", style="dim")
        set_border_title(movers, title)
        set_border_title(
            self.query_one("#volume", ScanTable), Text("Top volume · shares traded", style="bold")
        )

    # -- showing -----------------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot) -> None:
        """Show `snap`."""
        self._show_tables(snap)
        self._show_options(snap)

    def mark_entered(self, events: Sequence[AlertEvent]) -> None:
        """Highlight the names the engine found entering the top movers or top volume (the
        scanner's own alerts: `entrants.BOARDS`)."""
        for table_id, board in (("#movers", "moves"), ("#volume", "volume")):
            name = BOARDS[board]
            symbols = [e.symbol for e in events if e.rule == SCANNER and e.name == name]
            if symbols:
                self.query_one(table_id, ScanTable).mark_entered(symbols)

    def apply_ticks(self, ticks: Sequence[Tick], market_now: float) -> None:
        """Streamed trades onto the rows on show, before the next read re-ranks them."""
        for table in self.query(ScanTable):
            table.apply_ticks(ticks, market_now)

    def _show_tables(self, snap: Snapshot) -> None:
        stale = self.status.state.stale
        movers = self.query_one("#movers", ScanTable)
        # Before the open the main table is the gappers: the gap from the previous close,
        # with the pre-market volume against its usual (in the RVol column).
        gapping = bool(snap.gappers) and self.movers_mode == "moves"
        if gapping != self._gapping:
            self._gapping = gapping
            self._titles()
        rows = (
            [dataclasses.replace(g.row, rvol=g.premarket_rvol) for g in snap.gappers]
            if gapping
            else snap.movers_by(self.movers_mode)
        )
        shown = [*rows[: self.table_rows], *snap.volume[: self.table_rows]]
        marks = snapshot_marks(snap, [r.symbol for r in shown])
        facts = snapshot_facts(snap, shown)
        movers.update_rows(
            rows[: self.table_rows], stale=stale, sparks=snap.sparks, marks=marks, facts=facts
        )
        self.query_one("#volume", ScanTable).update_rows(
            snap.volume[: self.table_rows],
            stale=stale,
            sparks=snap.sparks,
            marks=marks,
            facts=facts,
        )

    def _show_options(self, snap: Snapshot) -> None:
        panel = self.query_one(OptionsPanel)
        market_now = self.momo.market_epoch()
        market = snap.market.rows if snap.market else []
        rows = market if panel.view == "market" else snap.shares
        panel.show(rows, self.options_title(snap, market_now))
        if len(rows) != self._options_rows:
            self._options_rows = len(rows)
            self._layout()

    def options_title(self, snap: Snapshot, market_now: float) -> Text:
        """What the shares are of, and how old: the watch set's chains (how many, as of when,
        the oldest, how many left out as stale), or OCC's day for the whole market; fitted to
        the panel's width by leaving out whole parts (a number is never cut)."""
        panel = self.query_one(OptionsPanel)
        width = panel.size.width - 2  # the border's corners and the title's margins
        parts = self._options_title_parts(panel.view, snap, market_now)
        return fit_line(parts, width) if width > 0 else fit_line(parts, 10**6)

    @staticmethod
    def _options_title_parts(view: str, snap: Snapshot, market_now: float) -> list[Part]:
        parts: list[Part] = []

        def add(rank: int, *forms: Text, grow: int = -1) -> None:
            parts.append(Part(list(forms), rank, grow=grow))

        def t(text: str, style: str = "") -> Text:
            return Text(text, style=style)

        if view == "market":
            add(
                MUST,
                t("Options volume · whole market", "bold"),
                t("Options · market", "bold"),
                grow=LOW,  # the heading's long form after the figures
            )
            market = snap.market
            if market is None:
                none = "no OCC day stored yet (the first refresh fetches it)"
                add(HIGH, t(none), t("no day yet"))
            else:
                named = sum(1 for r in market.rows if not r.grouped)
                add(MUST, t(f"OCC {market.day}"))
                add(LOW, t("share of all US-listed options"))
                add(
                    HIGH,
                    t(f"{fmt.count(market.total)} contracts, {market.underlyings:,} underlyings"),
                    t(f"{fmt.count(market.total)} contracts"),
                )
                add(LOW, t(f"top {named}, then all others"))
            add(MID, t("w: watch set", "dim"))
            return parts
        add(
            MUST,
            t("Options volume · share of the watch set", "bold"),
            t("Options volume · watch set", "bold"),
            t("Options", "bold"),
            grow=LOW,  # the heading's long form after the figures
        )
        if not snap.shares:
            add(HIGH, t("no chains yet"))
        else:
            fresh = snap.fresh_shares
            stale = len(snap.shares) - len(fresh)
            stamps = [s.as_of for s in fresh if s.as_of is not None]
            chains = f"{len(fresh)} chain{'s' if len(fresh) != 1 else ''}"
            if stamps:
                oldest = fmt.age(market_now - min(stamps))
                add(HIGH, t(f"{chains}, oldest {oldest}"), t(chains))
            else:
                add(HIGH, t(chains))
            if stale:
                limit = fmt.age(snap.chain_max_age) if snap.chain_max_age else ""
                add(
                    MUST,
                    t(f"{stale} older than {limit} left out", "yellow"),
                    t(f"{stale} left out", "yellow"),
                )
            if stamps:
                newest = datetime.fromtimestamp(max(stamps), mh.ET).strftime("%H:%M")
                add(HIGH, t(f"as of {newest} ET"), t(newest))
            add(LOW, t("Cboe, 15 min delayed", "dim"), t("15 min delayed", "dim"))
        add(MID, t("w: whole market", "dim"), t("w: market", "dim"))
        return parts

    def tick(self, market_now: float) -> float | None:
        """Age the rows to market-clock time `market_now`; returns the oldest Age shown."""
        oldest = None
        for table in self.query(ScanTable):
            table.tick(market_now)
            age = table.oldest_age(market_now)
            if age is not None:
                oldest = age if oldest is None else max(oldest, age)
        bars = self.query_one(ShareBars)
        panel = self.query_one(OptionsPanel)
        if panel.view == "watch" and self.momo.snapshot is not None:
            bars.tick(market_now)
            set_border_title(panel, self.options_title(self.momo.snapshot, market_now))
        return oldest

    # -- actions -----------------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        self.momo.refresh_now()

    def action_cycle_tiers(self) -> None:
        self.momo.cycle_tiers()

    def action_cycle_movers(self) -> None:
        index = (MOVERS_MODES.index(self.movers_mode) + 1) % len(MOVERS_MODES)
        self.movers_mode = MOVERS_MODES[index]
        self._titles()
        snap = self.momo.snapshot
        if snap is not None:
            self._show_tables(snap)

    def action_toggle_treemap(self) -> None:
        self.query_one(OptionsPanel).toggle()

    def action_toggle_market(self) -> None:
        panel = self.query_one(OptionsPanel)
        panel.view = "market" if panel.view == "watch" else "watch"
        snap = self.momo.snapshot
        if snap is not None:
            self._show_options(snap)
        if panel.view == "market" and (snap is None or snap.market is None):
            self.notify(
                "No OCC day stored yet: the whole-market view needs the first refresh.",
                markup=False,
            )

    def action_history(self) -> None:
        self.momo.open_history_soon()

    def watch_maximized(self) -> None:
        # Zoomed in or out: the zoomed table's height and rows follow.
        self._layout()

    def action_zoom(self) -> None:
        focused = self.focused
        if self.maximized is not None:
            self.minimize()
        elif focused is not None:
            target = (
                self.query_one(OptionsPanel)
                if isinstance(focused, ShareBars | Treemap)
                else (focused)
            )
            self.maximize(target, container=False)

    def selected_symbol(self) -> str | None:
        """The symbol under the cursor of the focused panel (the movers', if none is)."""
        focused = self.focused
        if isinstance(focused, ScanTable):
            return focused.selected_symbol
        if isinstance(focused, ShareBars | Treemap):
            return self.query_one(OptionsPanel).selected_key
        return self.query_one("#movers", ScanTable).selected_symbol

    def _chartable_symbol(self) -> str | None:
        """The highlighted symbol, or None after saying why there is no chart to open."""
        symbol = self.selected_symbol()
        if symbol is None:
            self.notify("Nothing highlighted yet: the tables fill with the first refresh.")
        elif symbol == OTHERS:
            self.notify("“All others” is many underlyings together: it has no chart.")
        else:
            return symbol
        return None

    def action_open_chart(self) -> None:
        symbol = self._chartable_symbol()
        if symbol is not None:
            self.momo.open_chart_soon(symbol)

    def action_day_chart(self) -> None:
        symbol = self._chartable_symbol()
        if symbol is not None:
            self.momo.open_day_chart_soon(symbol)

    def action_alerts(self) -> None:
        self.momo.open_alerts_soon()

    def action_halts(self) -> None:
        self.momo.open_halts_soon()

    def action_watchlist(self) -> None:
        self.momo.open_watchlist_soon()

    def action_watch_add(self) -> None:
        symbol = self.selected_symbol()
        self.momo.ask_watch("" if symbol in (None, OTHERS) else str(symbol))

    def action_watch_remove(self) -> None:
        symbol = self.selected_symbol()
        if symbol is None or symbol == OTHERS:
            self.notify("Highlight a symbol to remove it from the watchlist (l lists it).")
        else:
            self.momo.unwatch_soon(symbol)

    def action_jump(self) -> None:
        from .dialogs import JumpScreen

        self.app.push_screen(JumpScreen(), callback=self._jump_to)

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
            panel = self.query_one(OptionsPanel)
            if panel.showing_treemap:
                panel.toggle()
            bars.focus()
            return
        self.momo.show_symbol_soon(symbol)

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        # Enter on a movers/volume row opens the chart (the options panel sends Drill).
        if isinstance(event.table, ScanTable):
            self.momo.open_chart_soon(event.key)

    def on_options_panel_drill(self, message: OptionsPanel.Drill) -> None:
        row: ShareRow | None = self.query_one(OptionsPanel).row_for(message.underlying)
        if row is not None and row.grouped:
            self.notify(
                f"“All others” is {row.grouped:,} underlyings together: no contracts to show.",
                markup=False,
            )
            return
        self.momo.open_contracts_soon(message.underlying)
