"""Small modal screens: help, jump to a symbol, and a symbol's card."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from ... import format as fmt
from ...filings import Filing, catalyst_text, label
from ...models import Ticker
from ...queries import ScanRow
from ...rowfacts import filing_words
from ..widgets.chart import ChartData, DayChart


def key_label(key: str) -> str:
    """How a binding's key is written for people: `/`, `?`, Enter, Escape, S (Shift+s)."""
    names = {
        "slash": "/",
        "question_mark": "?",
        "enter": "Enter",
        "escape": "Escape",
        "ctrl+c": "Ctrl+C",
        "tab": "Tab",
        "plus": "+",
        "minus": "-",
    }
    return names.get(key, key)


def help_rows(screen: Screen[Any], app_bindings: Iterable[object]) -> list[tuple[str, str]]:
    """The keys of `screen`, as the help lists them: its own bindings (with their tooltips),
    the keys its widgets handle (`HELP_EXTRA`), then the app's, which work everywhere."""
    rows: list[tuple[str, str]] = []
    for binding in [*_declared(screen), *app_bindings]:
        if not isinstance(binding, Binding) or binding.system:
            continue
        for key in binding.key.split(","):
            label = key_label(key.strip())
            if label not in (r[0] for r in rows):
                rows.append((label, binding.tooltip or binding.description))
    rows.extend(getattr(screen, "HELP_EXTRA", ()))
    return rows


def _declared(screen: Screen[Any]) -> list[Binding]:
    return [b for b in getattr(type(screen), "BINDINGS", []) if isinstance(b, Binding)]


#: What the movers and volume tables' columns mean (the help's legend).
COLUMN_LEGEND = (
    ("RVol", "today's volume against the usual volume by this time of day (1.0x: a usual day)"),
    ("Float", "float shares (an estimate from SEC filings; - where none is known yet)"),
    ("Rot.", "float rotation: today's volume / float (1.0x: the float traded once)"),
    ("SI%", "short interest (FINRA, as of its settlement date) / float"),
    (
        "!",
        "marks: HALT, RESUMED, SSR, HOD (new highs), the day's newest SEC filing (8-K 2.02 · 14m),",
    ),
    ("", "opt→px 35m (options activity led the price run) or px→opt (it followed)"),
)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened from: its bindings and the app's; from the main
    screen, the status bar's whole text first (the bar shortens it to fit its width)."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(
        self,
        title: str,
        rows: Sequence[tuple[str, str]],
        status: Text | None = None,
        columns: Sequence[tuple[str, str]] = (),
    ) -> None:
        """`columns`: what the tables' columns mean (from the main screen)."""
        super().__init__()
        self.title_text = title
        self.rows = list(rows)
        self.status = status
        self.columns = list(columns)

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", justify="right", no_wrap=True)
        table.add_column()
        for key, what in self.rows:
            table.add_row(key, what)
        intro = Text(f"{self.title_text}\n", style="bold")
        with VerticalScroll(id="help-box"):
            yield Static(intro, markup=False)
            if self.status is not None:
                status = Text("Status\n", style="bold").append_text(self.status).append("\n")
                yield Static(status, markup=False, id="help-status")
            yield Static(table, markup=False)
            if self.columns:
                legend = Table.grid(padding=(0, 2))
                legend.add_column(style="bold", justify="right", no_wrap=True)
                legend.add_column()
                for name, what in self.columns:
                    legend.add_row(name, what)
                yield Static(Text("\nColumns", style="bold"), markup=False)
                yield Static(legend, markup=False)
            yield Static(
                Text(
                    "\nThe mouse works too: click a row to select it, a symbol to chart it."
                ).append("\nEscape to close", style="dim"),
                markup=False,
            )


class JumpScreen(ModalScreen[str | None]):
    """Ask for a symbol; dismiss with it (upper-cased) or None. `value` is offered first,
    selected, so that Enter takes it and typing replaces it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str = "Jump to symbol", value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-box"):
            yield Static(self.title_text, markup=False)
            yield Input(self.value, placeholder="e.g. NVDA", id="jump-input", max_length=12)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip().upper()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SymbolScreen(ModalScreen[str | None]):
    """A symbol's latest quote, for one that is not in the tables. Its Age ticks with the
    market clock. Dismisses with "chart" or "contracts" when the user asks for either."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Close", tooltip="close the card"),
        Binding("o", "choose('chart')", "Chart", tooltip="the symbol's TradingView chart"),
        Binding(
            "enter",
            "choose('contracts')",
            "Contracts",
            tooltip="the symbol's option contracts today (when it is in the watch set)",
        ),
        Binding("c", "choose('day')", "Day chart", tooltip="the chart screen: the symbol's day"),
        Binding("f", "filing(1)", "Filing", tooltip="open the newest filing on sec.gov"),
        *(
            Binding(str(n), f"filing({n})", f"Filing {n}", show=False, tooltip=f"open filing {n}")
            for n in range(1, 6)
        ),
    ]

    def __init__(
        self,
        ticker: Ticker,
        row: ScanRow | None,
        options_volume: int | None,
        clock: Callable[[], float],
        *,
        no_contracts: str = "",
        chart: ChartData | None = None,
        why: Callable[[], str] | None = None,
        no_quote: Callable[[], str] | None = None,
        context: Callable[[], list[tuple[str, Text]]] | None = None,
        filings: Callable[[], list[Filing]] | None = None,
        open_url: Callable[[str, str], None] | None = None,
    ) -> None:
        """`clock` is the market clock (Unix seconds) the quote's age is measured against;
        `no_contracts` says why Enter has no contracts to open, when it has none; `chart` is
        the symbol's day, drawn under the quote when there are samples; `why` gives the
        scheduler's reason for the symbol's priority and `no_quote` why it has no quote and
        when it will (both asked again at every tick, so they move on with the clock);
        `context` gives the rows of its halt, Rule 201 restriction, high of the day, float
        and short interest (asked at every tick too); `filings` the day's SEC filings on it,
        newest first, numbered on the card for the keys 1-5 (f: the newest) that open them
        with `open_url(url, title)`."""
        super().__init__()
        self.chart = chart
        self.ticker = ticker
        self.row = row
        self.options_volume = options_volume
        self.clock = clock
        self.shown_age = ""  # the Age on the card, as last drawn
        self.no_contracts = no_contracts or (
            f"No options volume stored for {ticker.symbol} today: it is not in the watch set."
        )
        self.why = why or (lambda: "")
        self.no_quote = no_quote or (lambda: "none yet")
        self.context = context or (lambda: [])
        self.filings = filings or (lambda: [])
        self.open_url = open_url

    def _grid(self) -> Table:
        t = self.ticker
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", justify="right")
        grid.add_column()
        grid.add_row("Name", Text(t.name))
        grid.add_row(
            "Listing",
            Text(
                f"{t.exchange or '?'} ({t.mic or '?'}) · "
                f"{f'{t.cap_tier} cap' if t.cap_tier else t.category or 'no cap tier'}"
            ),
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
                    f"{fmt.count(r.volume)} (avg {fmt.count(r.avg_volume)}) · "
                    f"RVol {fmt.ratio(r.rvol)} at this time of day, "
                    f"{fmt.ratio(r.rvol_day)} of a whole day"
                    + (f", {fmt.ratio(r.rvol_5m)} over 5 min" if r.rvol_5m is not None else "")
                ),
            )
            self.shown_age = fmt.age(r.age(self.clock()))
            age = Text(self.shown_age)
            if not r.current:
                # Older than the latest session: halted, or no longer updated by the source.
                age.append("  STALE: not from the latest session", style="bold yellow")
            grid.add_row("Age", age)
        else:
            grid.add_row("Quote", Text(self.no_quote(), style="yellow"))
        for name, text in self.context():
            grid.add_row(name, text)
        now = self.clock()
        for n, filing in enumerate(self.filings()[:5], 1):
            line = Text(f"{n} ", style="bold")
            line.append(catalyst_text(filing, now), style="bold magenta")
            line.append(f"  {filing_words(filing)}, {fmt.et_time(filing.accepted_at)} ET")
            grid.add_row("Filings" if n == 1 else "", line)
        if self.options_volume:
            grid.add_row(
                "Options today", Text(f"{fmt.count(self.options_volume)} contracts (Enter)")
            )
        why = self.why()
        if why:
            grid.add_row("Polled", Text(why))
        return grid

    def compose(self) -> ComposeResult:
        hint = "c day chart · o TradingView · "
        if self.options_volume:
            hint += "Enter contracts · "
        if self.filings():
            hint += "f/1-5 filings · "
        hint += "Escape close"
        with Vertical(id="symbol-box"):
            yield Static(Text(f" {self.ticker.symbol} ", style="bold reverse"), markup=False)
            yield Static(self._grid(), id="symbol-grid", markup=False)
            if self.chart is not None and self.chart.prices:
                yield DayChart(self.chart, id="symbol-chart")
            yield Static(Text(hint, style="dim"), markup=False)

    def tick(self) -> None:
        """The quote's age moves on with the market clock (the app calls this on the same
        tick as the tables' ages, so the card and the rows agree). A tick that comes between
        the card's push and its first layout has nothing to update yet: the grid it is about
        to draw already has this age."""
        grids = self.query("#symbol-grid").results(Static)
        for grid in grids:
            grid.update(self._grid())

    def action_choose(self, what: str) -> None:
        if what == "contracts" and not self.options_volume:
            self.notify(self.no_contracts, severity="warning", markup=False)
            return
        self.dismiss(what)

    def action_filing(self, n: int) -> None:
        filings = self.filings()
        if not 1 <= n <= len(filings[:5]):
            self.notify(
                f"No filing {n} on {self.ticker.symbol} today."
                if filings
                else f"No SEC filing on {self.ticker.symbol} today.",
                severity="warning",
                markup=False,
            )
            return
        filing = filings[n - 1]
        if self.open_url is not None:
            self.open_url(filing.url, f"{self.ticker.symbol}: {label(filing)}")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
