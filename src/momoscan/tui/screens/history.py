"""The history page: the daily options top 10 of the trading days on record, the selected
day's leaders in detail, and (where the terminal has the room) the selected leader's options
volume day by day."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ... import format as fmt
from ... import queries
from ...models import Leader

if TYPE_CHECKING:
    from ..app import MomoscanApp

#: Below this width the grid's days are written MM-DD, so all ten ranks fit 80 columns.
WIDE_DAYS = 90
#: The trend panel is shown only with at least this many rows to draw it in.
TREND_MIN_ROWS = 6


def volume_chart(series: list[tuple[date, int]], width: int, height: int) -> Text:
    """Vertical bars of daily volume, oldest left: `height` rows of bars, then a row of
    day-of-month labels. Each bar is as wide as the width allows (at most 3 cells)."""
    text = Text(no_wrap=True, overflow="crop")
    if not series or height < 2 or width < 4:
        return text
    series = series[-max(1, width // 2) :]
    bar = max(1, min(6, width // len(series) - 1))
    top = max(v for _, v in series) or 1
    rows = height - 1
    for row in range(rows, 0, -1):
        for _, value in series:
            eighths = round(value / top * rows * 8)
            full = eighths // 8
            if full >= row:
                block = "█"
            elif full == row - 1 and eighths % 8:
                block = " ▁▂▃▄▅▆▇"[eighths % 8]
            else:
                block = " "
            text.append(block * bar, style="magenta")
            text.append(" ")
        text.append("\n")
    for day, _ in series:
        text.append(f"{day.day:>{bar}}"[-bar:] + " ", style="dim")
    return text


class HistoryScreen(Screen[None]):
    """One row per day (newest first), one column per rank; NEW entrants marked. The lower
    table details the selected day: streaks, rank changes, volume against average, reasons."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back"),
        Binding(
            "o", "chart", "Chart", id="chart", tooltip="the highlighted leader's TradingView chart"
        ),
        Binding(
            "enter",
            "contracts",
            "Contracts",
            id="contracts",
            tooltip="days: show that day's leaders; leaders: the leader's contracts that day",
        ),
    ]
    HELP_EXTRA = (
        ("Tab / Shift+Tab", "between the days and the day's leaders"),
        ("↑ ↓", "another day, or another leader"),
    )

    def __init__(self, history: dict[date, list[Leader]], *, include_etfs: bool) -> None:
        super().__init__()
        self.history = history
        self.include_etfs = include_etfs
        self.day: date | None = next(iter(history), None)
        self._trend_for: str | None = None
        #: The underlying whose trend is drawn (tests and snapshots wait for it).
        self.trend_drawn: str | None = None
        self._wide_days: bool | None = None

    @property
    def momo(self) -> MomoscanApp:
        return cast("MomoscanApp", self.app)

    def compose(self) -> ComposeResult:
        days = len(self.history)
        title = Text(no_wrap=True, overflow="ellipsis")
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
        yield Static("", id="history-trend", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
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
        self._fill_grid()
        self.query_one("#history-grid", DataTable).focus()
        if self.day is not None:
            self._show_day(self.day)

    def _fill_grid(self) -> None:
        wide = self.size.width >= WIDE_DAYS or self.size.width == 0
        if wide == self._wide_days:
            return
        self._wide_days = wide
        grid = self.query_one("#history-grid", DataTable)
        keep = grid.cursor_row
        grid.clear(columns=True)
        grid.add_column("Day", key="day")
        for rank in range(1, 11):
            grid.add_column(Text(f"#{rank}", justify="left"), key=f"r{rank}")
        for day, leaders in self.history.items():
            cells: list[Text] = [Text(day.isoformat() if wide else day.strftime("%m-%d"))]
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
        if keep:
            grid.move_cursor(row=keep)

    def on_resize(self) -> None:
        """Give each part the rows it needs: the days, the day's leaders, and what is left
        to the selected leader's trend (hidden when too small to read)."""
        self._fill_grid()
        height = self.size.height
        rest = height - 2 - 1 - 1  # title, the day's title, footer
        leaders = max((len(v) for v in self.history.values()), default=10) + 1
        days = len(self.history) + 1
        grid = self.query_one("#history-grid", DataTable)
        detail = self.query_one("#history-day", DataTable)
        trend = self.query_one("#history-trend", Static)
        if rest >= days + leaders:
            grid.styles.height = days
            detail.styles.height = leaders
            spare = rest - days - leaders
        else:
            # Too short for everything: the day's leaders whole, the days scroll.
            detail.styles.height = min(leaders, max(4, rest // 2))
            grid.styles.height = max(3, rest - int(detail.styles.height.value))  # type: ignore[union-attr]
            spare = 0
        trend.display = spare >= TREND_MIN_ROWS
        trend.styles.height = max(0, spare)
        self._trend_for = None  # drawn again at the new size
        self.call_after_refresh(self._draw_trend)

    def _show_day(self, day: date) -> None:
        self.day = day
        leaders = self.history.get(day, [])
        new = sum(1 for x in leaders if x.is_new)
        title = Text(f" {day} ", style="bold reverse")
        title.append(
            f"  {new} new entrant{'s' if new != 1 else ''}" if new else "  no new entrants"
        )
        title.append("  · Enter on a leader: its contracts that day · o: its chart", style="dim")
        self.query_one("#history-day-title", Static).update(title, layout=False)
        detail = self.query_one("#history-day", DataTable)
        keep = detail.cursor_row
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
                key=x.underlying,
            )
        if leaders:
            detail.move_cursor(row=min(keep, len(leaders) - 1))
        self._draw_trend()

    @property
    def leader(self) -> Leader | None:
        """The leader under the day table's cursor."""
        leaders = self.history.get(self.day, []) if self.day else []
        row = self.query_one("#history-day", DataTable).cursor_row
        return leaders[row] if 0 <= row < len(leaders) else None

    def _draw_trend(self) -> None:
        trend = self.query_one("#history-trend", Static)
        leader = self.leader
        if not trend.display or leader is None:
            return
        if leader.underlying != self._trend_for:
            self._trend_for = leader.underlying
            self.run_worker(self._load_trend(leader.underlying), group="trend", exclusive=True)

    async def _load_trend(self, underlying: str) -> None:
        reader = self.momo.reader
        if reader is None:
            return
        series = await reader.call(queries.daily_totals, underlying, 40)
        trend = self.query_one("#history-trend", Static)
        height = trend.size.height
        title = Text(f" {underlying} ", style="bold reverse")
        title.append(" options volume by day (OCC)", style="bold")
        if series:
            peak = max(series, key=lambda s: s[1])
            title.append(
                f" · {series[0][0]} to {series[-1][0]} · peak {fmt.count(peak[1])} on {peak[0]}",
                style="dim",
            )
        chart = volume_chart(series, trend.size.width - 2, height - 2)
        text = Text()
        text.append_text(title)
        text.append("\n\n")
        text.append_text(chart)
        trend.update(text)
        self.trend_drawn = underlying

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "history-grid" and event.row_key.value:
            self._show_day(date.fromisoformat(str(event.row_key.value)))
        elif event.data_table.id == "history-day":
            self._draw_trend()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a DataTable row arrives here (the table's own binding wins over ours).
        event.stop()
        self.action_contracts()

    def action_contracts(self) -> None:
        grid = self.query_one("#history-grid", DataTable)
        if self.focused is grid:
            self.query_one("#history-day", DataTable).focus()
            return
        leader = self.leader
        if leader is None:
            self.notify("No leaders on record for this day.", markup=False)
            return
        self.momo.open_contracts_soon(leader.underlying, day=leader.day)

    def action_chart(self) -> None:
        leader = self.leader
        if leader is None:
            self.notify("No leader highlighted: pick a day with leaders.", markup=False)
            return
        self.momo.open_chart_soon(leader.underlying)
