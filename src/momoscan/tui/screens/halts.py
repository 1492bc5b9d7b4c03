"""The halts screen (`H`): today's trading halts and resumptions, newest first, from Nasdaq
Trader's trade halts feed as the collector stored it (every US listing, not only the
universe), and the Rule 201 short-sale restrictions in force today."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ... import format as fmt
from ...halts import Halt, ShortSaleRestriction, reason_text

if TYPE_CHECKING:
    from ..app import MomoscanApp


def _clock(at: float | None) -> str:
    return "" if at is None else fmt.et_time(at)


def halt_state(halt: Halt, now: float) -> Text:
    """`HALTED 4m`, `resumes in 1m`, `RESUMED 2m ago`: where the halt stands at `now`."""
    if halt.halted(now):
        text = Text(f"HALTED {fmt.age(now - halt.halted_at)}", style="bold white on red")
        if halt.resume_trade_at is not None:
            text.append(f" · resumes in {fmt.age(halt.resume_trade_at - now)}", style="yellow")
        return text
    if halt.resume_trade_at is not None and now >= halt.resume_trade_at:
        return Text(f"resumed {fmt.age(now - halt.resume_trade_at)} ago", style="green")
    return Text("")


class HaltsScreen(Screen[None]):
    """Today's halts in a table (time ET, symbol, name, market, reason, resumption, state)
    and, under it, the day's Rule 201 restrictions."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back"),
        Binding("c", "day_chart", "Day chart", id="day", tooltip="the highlighted symbol's day"),
        Binding("o", "chart", "TradingView", id="chart", tooltip="the symbol's TradingView chart"),
    ]
    HELP_EXTRA = (("↑ ↓", "another halt"),)

    def __init__(
        self,
        day: date,
        halts: Sequence[Halt],
        restrictions: Mapping[str, ShortSaleRestriction],
        now: float,
        *,
        polled_at: float | None = None,
    ) -> None:
        """`now` is the market clock (Unix seconds); `polled_at` the collector's last poll of
        the feed (None: never)."""
        super().__init__()
        self.day = day
        self.halts = list(halts)
        self.restrictions = dict(restrictions)
        self.now = now
        self.polled_at = polled_at

    @property
    def momo(self) -> MomoscanApp:
        return cast("MomoscanApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="halts-title", markup=False)
        yield DataTable(id="halts", cursor_type="row", zebra_stripes=True)
        yield Static(self._ssr_line(), id="halts-ssr", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (
            ("time", "Halted ET"),
            ("symbol", "Symbol"),
            ("reason", "Reason"),
            ("state", "Now"),
            ("quote", "Quotes ET"),
            ("trade", "Trades ET"),
            ("market", "Market"),
            ("name", "Name"),
        ):
            table.add_column(label, key=key)
        self._fill()
        table.focus()

    def _title(self) -> Text:
        halted = sum(1 for h in self.halts if h.halted(self.now))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" Halts today ", style="bold reverse")
        count = len(self.halts)
        text.append(
            f" {self.day:%a %Y-%m-%d} · {count} halt{'s' if count != 1 else ''} · "
            f"{halted} halted now"
        )
        text.append("\n ")
        if self.polled_at is None:
            text.append("The halts feed has not been read yet.", style="yellow")
        else:
            age = fmt.age(max(0.0, self.now - self.polled_at))
            text.append(
                f"Nasdaq Trader's trade halts feed, every US listing, read {age} ago",
                style="dim",
            )
        return text

    def _ssr_line(self) -> Text:
        text = Text(no_wrap=False)
        text.append(f" SSR today ({len(self.restrictions)}): ", style="bold yellow")
        if not self.restrictions:
            text.append("none on record", style="dim")
            return text
        names = []
        for symbol, r in sorted(self.restrictions.items()):
            since = "" if r.trigger_day == self.day else f" (since {r.trigger_day:%m-%d})"
            names.append(f"{symbol}{since}")
        text.append(", ".join(names))
        return text

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for n, halt in enumerate(self.halts):
            reason = Text(halt.reason, style="bold")
            reason.append(f" {reason_text(halt.reason)}")
            table.add_row(
                Text(_clock(halt.halted_at), style="dim"),
                Text(halt.symbol, style="bold"),
                reason,
                halt_state(halt, self.now),
                Text(_clock(halt.resume_quote_at)),
                Text(_clock(halt.resume_trade_at)),
                Text(halt.market, style="dim"),
                Text(halt.name, style="dim"),
                key=str(n),
            )
        if not self.halts:
            table.add_row("", Text("no halts today", style="dim"), "", "", "", "", "", "")

    def show(
        self,
        halts: Sequence[Halt],
        restrictions: Mapping[str, ShortSaleRestriction],
        now: float,
        polled_at: float | None,
    ) -> None:
        """Read again (a new poll, or the clock moved): shown at once, the cursor kept."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        self.halts, self.restrictions, self.now = list(halts), dict(restrictions), now
        self.polled_at = polled_at
        self._fill()
        self.query_one("#halts-title", Static).update(self._title(), layout=False)
        self.query_one("#halts-ssr", Static).update(self._ssr_line())
        if self.halts:
            table.move_cursor(row=min(len(self.halts) - 1, row))

    @property
    def selected(self) -> Halt | None:
        if not self.halts:
            return None
        return self.halts[min(self.query_one(DataTable).cursor_row, len(self.halts) - 1)]

    def action_day_chart(self) -> None:
        halt = self.selected
        if halt is None:
            self.notify("No halt to chart: none today.", markup=False)
        else:
            self.momo.open_day_chart_soon(halt.symbol)

    def action_chart(self) -> None:
        halt = self.selected
        if halt is None:
            self.notify("No halt to chart: none today.", markup=False)
        else:
            self.momo.open_chart_soon(halt.symbol)
