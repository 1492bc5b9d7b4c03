"""The history page: the daily options top 10 of the last 20 trading days."""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ... import format as fmt
from ...models import Leader


class HistoryScreen(Screen[None]):
    """One row per day (newest first), one column per rank; NEW entrants marked. The lower
    table details the selected day: streaks, rank changes, volume against average, reasons."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="back")]

    def __init__(self, history: dict[date, list[Leader]], *, include_etfs: bool) -> None:
        super().__init__()
        self.history = history
        self.include_etfs = include_etfs

    def compose(self) -> ComposeResult:
        days = len(self.history)
        title = Text()
        title.append(" Daily options top 10 ", style="bold reverse")
        title.append(f" last {days} trading days · OCC, all US-listed options")
        title.append(" · ETFs and indexes " + ("included" if self.include_etfs else "left out"))
        title.append("\n ")
        title.append("NEW", style="bold black on magenta")
        title.append(" first time in the top 10 in the lookback window · ↑↓ rank change")
        yield Static(title, id="history-title", markup=False)
        yield DataTable(id="history-grid", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-day-title", markup=False)
        yield DataTable(id="history-day", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        grid = self.query_one("#history-grid", DataTable)
        grid.add_column("Day", key="day", width=10)
        for rank in range(1, 11):
            grid.add_column(Text(f"#{rank}", justify="left"), key=f"r{rank}", width=7)
        for day, leaders in self.history.items():
            cells: list[Text] = [Text(day.isoformat())]
            by_rank = {x.rank: x for x in leaders}
            for rank in range(1, 11):
                x = by_rank.get(rank)
                if x is None:
                    cells.append(Text(""))
                elif x.is_new:
                    cells.append(Text(x.underlying, style="bold black on magenta"))
                else:
                    cells.append(Text(x.underlying, style="bold" if x.streak == 1 else ""))
            grid.add_row(*cells, key=day.isoformat())
        detail = self.query_one("#history-day", DataTable)
        for key, label in (
            ("rank", "#"),
            ("underlying", "Underlying"),
            ("volume", "Volume"),
            ("split", "Calls/Puts"),
            ("change", "Rank Δ"),
            ("streak", "Streak"),
            ("ratio", "vs 20d avg"),
            ("reason", "Why it is flagged"),
        ):
            detail.add_column(label, key=key)
        grid.focus()
        if self.history:
            self._show_day(next(iter(self.history)))

    def _show_day(self, day: date) -> None:
        leaders = self.history.get(day, [])
        new = sum(1 for x in leaders if x.is_new)
        title = Text(f" {day} ", style="bold reverse")
        title.append(
            f"  {new} new entrant{'s' if new != 1 else ''}" if new else "  no new entrants"
        )
        self.query_one("#history-day-title", Static).update(title)
        detail = self.query_one("#history-day", DataTable)
        detail.clear()
        for x in leaders:
            if x.rank_change is None:
                # Not in yesterday's top 10: either NEW (see the flag) or back after a gap.
                change = Text("in", style="magenta")
            elif x.rank_change > 0:
                change = Text(f"↑{x.rank_change}", style="green")
            elif x.rank_change < 0:
                change = Text(f"↓{-x.rank_change}", style="red")
            else:
                change = Text("=", style="dim")
            detail.add_row(
                Text(str(x.rank), justify="right"),
                Text(x.underlying, style="bold black on magenta" if x.is_new else "bold"),
                Text(fmt.count(x.total), justify="right"),
                Text(f"{fmt.count(x.calls)}/{fmt.count(x.puts)}", justify="right"),
                change,
                Text(f"{x.streak}d", justify="right"),
                Text(fmt.ratio(x.volume_ratio), justify="right"),
                Text(x.reason),
            )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "history-grid" and event.row_key.value:
            self._show_day(date.fromisoformat(str(event.row_key.value)))
