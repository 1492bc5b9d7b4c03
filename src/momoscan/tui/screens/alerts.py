"""The alerts screen (`a`): what fired today, newest first: your rules' alerts and the
scanner's own (a symbol entering the top movers or top volume, a new options top-10 entrant),
all kept in the database, so a cron job's and an earlier run's are here too; each with its
signal kind's track record (`NEW · 9/21 ≥5% by close`) once the kind has enough history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ... import market_hours as mh
from ...entrants import SCANNER
from ...models import AlertEvent
from ...signals import kind_of_event

if TYPE_CHECKING:
    from ..app import MomoscanApp


class AlertsScreen(Screen[None]):
    """Today's alerts in a table: time (ET), which alert, the symbol and what crossed."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back"),
        Binding("c", "day_chart", "Day chart", id="day", tooltip="the highlighted symbol's day"),
        Binding("o", "chart", "TradingView", id="chart", tooltip="the symbol's TradingView chart"),
    ]
    HELP_EXTRA = (("↑ ↓", "another alert"),)

    def __init__(
        self,
        day: date,
        events: Sequence[AlertEvent],
        *,
        rules: int,
        badges: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        """`rules`: how many alert rules the config has; `badges` each of today's signals'
        track record, (kind, symbol) -> "NEW · 9/21 ≥5% by close" (`queries.signal_badges`)."""
        super().__init__()
        self.day = day
        self.events = list(events)
        self.rules = rules
        self.badges = dict(badges or {})

    @property
    def momo(self) -> MomoscanApp:
        return cast("MomoscanApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="alerts-title", markup=False)
        yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("time", "Time ET"), ("alert", "Alert"), ("symbol", "Symbol")):
            table.add_column(label, key=key)
        table.add_column("Record", key="record")
        table.add_column("What crossed", key="what")
        self._fill()
        table.focus()

    def _title(self) -> Text:
        mine = sum(1 for e in self.events if e.rule != SCANNER)
        theirs = len(self.events) - mine
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" Alerts today ", style="bold reverse")
        text.append(f" {self.day:%a %Y-%m-%d} · {mine} from your rules")
        text.append(f" · {theirs} from the scanner (top movers, top volume, options top 10)")
        text.append("\n ")
        if self.rules:
            text.append(
                f"{self.rules} rule{'s' if self.rules != 1 else ''} in the config, each firing "
                "once per crossing; kept in the database",
                style="dim",
            )
        else:
            text.append(
                "No alert rules yet: add [[alerts.rules]] to the config file (README: Alert rules)",
                style="yellow",
            )
        return text

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for n, event in enumerate(self.events):
            clock = datetime.fromtimestamp(event.at, mh.ET).strftime("%H:%M:%S")
            kind = event.name or ("rule" if event.rule != SCANNER else "scanner")
            style = "bold" if event.rule != SCANNER else "dim"
            badge = self.badges.get((kind_of_event(event.rule, event.name), event.symbol), "")
            table.add_row(
                Text(clock, style="dim"),
                Text(kind, style=style),
                Text(event.symbol, style="bold"),
                Text(badge, style="cyan"),
                Text(event.message),
                key=str(n),
            )
        if not self.events:
            table.add_row(Text(""), Text("nothing has fired today", style="dim"), "", "", "")

    def show(
        self,
        events: Sequence[AlertEvent],
        badges: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        """New alerts fired while the screen is up: shown at once, the cursor kept."""
        if badges is not None:
            self.badges = dict(badges)
        table = self.query_one(DataTable)
        row = table.cursor_row
        before = len(self.events)
        self.events = list(events)
        self._fill()
        self.query_one("#alerts-title", Static).update(self._title(), layout=False)
        if self.events:
            table.move_cursor(row=min(len(self.events) - 1, row + len(self.events) - before))

    @property
    def selected(self) -> AlertEvent | None:
        table = self.query_one(DataTable)
        if not self.events:
            return None
        return self.events[min(table.cursor_row, len(self.events) - 1)]

    def action_day_chart(self) -> None:
        event = self.selected
        if event is None:
            self.notify("No alert to chart: nothing has fired today.", markup=False)
        else:
            self.momo.open_day_chart_soon(event.symbol)

    def action_chart(self) -> None:
        event = self.selected
        if event is None:
            self.notify("No alert to chart: nothing has fired today.", markup=False)
        else:
            self.momo.open_chart_soon(event.symbol)
