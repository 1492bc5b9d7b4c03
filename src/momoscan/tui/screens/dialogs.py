"""Small modal screens: help, jump to a symbol, and a symbol's card."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ... import format as fmt
from ...models import Ticker
from ...queries import ScanRow

KEYS = (
    ("r", "refresh now"),
    ("f", "cycle the cap-tier filter"),
    ("/", "jump to a symbol"),
    ("o", "open the selected symbol's TradingView chart (also: click a symbol)"),
    ("Enter", "open the selected underlying's option contracts (options panel)"),
    ("t", "options panel: bars / treemap"),
    ("h", "history: the daily options top 10 of the last 20 days"),
    ("Tab", "next panel (Shift+Tab: previous)"),
    ("Escape", "back"),
    ("?", "this help"),
    ("q", "quit"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        intro = Text(
            "momoscan: top movers and volume of your universe, and where today's options "
            "volume goes.\nThe mouse works too: click a row to select it, a symbol to chart "
            "it, a header to sort.\n",
        )
        with Vertical(id="help-box"):
            yield Static(intro, markup=False)
            yield Static(table, markup=False)
            yield Static(Text("Escape to close", style="dim"), markup=False)


class JumpScreen(ModalScreen[str | None]):
    """Ask for a symbol; dismiss with it (upper-cased) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-box"):
            yield Static("Jump to symbol", markup=False)
            yield Input(placeholder="e.g. NVDA", id="jump-input", max_length=12)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip().upper()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SymbolScreen(ModalScreen[str | None]):
    """A symbol's latest quote, for one that is not in the top-10 tables.
    Dismisses with "chart" or "contracts" when the user asks for either."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("o", "choose('chart')", "Chart"),
        Binding("enter", "choose('contracts')", "Contracts"),
    ]

    def __init__(
        self,
        ticker: Ticker,
        row: ScanRow | None,
        options_volume: int | None,
        now: float,
        *,
        why: str = "",
    ) -> None:
        super().__init__()
        self.ticker = ticker
        self.row = row
        self.options_volume = options_volume
        self.now = now
        self.why = why  # the scheduler's reason for the symbol's priority

    def compose(self) -> ComposeResult:
        t = self.ticker
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", justify="right")
        grid.add_column()
        grid.add_row("Name", Text(t.name))
        grid.add_row(
            "Listing", Text(f"{t.exchange or '?'} ({t.mic or '?'}) · {t.cap_tier or 'tier ?'}")
        )
        r = self.row
        if r is not None:
            change = r.change_pct or 0.0
            grid.add_row("Price", Text(fmt.price(r.price)))
            grid.add_row(
                "Change",
                Text(
                    fmt.pct(r.change_pct),
                    style="green" if change > 0 else "red" if change < 0 else "",
                ),
            )
            grid.add_row(
                "Volume",
                Text(
                    f"{fmt.count(r.volume)} (avg {fmt.count(r.avg_volume)}, "
                    f"RVol {fmt.ratio(r.rvol)})"
                ),
            )
            age = Text(fmt.age(r.age(self.now)))
            if not r.current:
                # Older than the latest session: halted, or no longer updated by the source.
                age.append("  STALE: not from the latest session", style="bold yellow")
            grid.add_row("Age", age)
        else:
            grid.add_row("Quote", Text("none yet", style="dim"))
        if self.options_volume:
            grid.add_row(
                "Options today", Text(f"{fmt.count(self.options_volume)} contracts (Enter)")
            )
        if self.why:
            grid.add_row("Polled", Text(self.why))
        with Vertical(id="symbol-box"):
            yield Static(Text(f" {t.symbol} ", style="bold reverse"), markup=False)
            yield Static(grid, markup=False)
            yield Static(
                Text("o chart · Enter contracts · Escape close", style="dim"), markup=False
            )

    def action_choose(self, what: str) -> None:
        if what == "contracts" and not self.options_volume:
            return
        self.dismiss(what)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
