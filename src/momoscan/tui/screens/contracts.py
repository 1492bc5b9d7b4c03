"""The drill-down: an underlying's option contracts for the day, sortable by any column."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from rich.console import JustifyMethod
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ... import format as fmt
from ...queries import ContractRow

#: A big chain (SPX has ~30,000 contracts) is shown as its top rows by the current sort.
MAX_ROWS = 1000

COLUMNS: tuple[tuple[str, str, Callable[[ContractRow], Any]], ...] = (
    ("expiry", "Expiry", lambda c: c.expiry),
    ("dte", "DTE", lambda c: c.days_to_expiry),
    ("strike", "Strike", lambda c: c.strike),
    ("right", "C/P", lambda c: c.right),
    ("volume", "Volume", lambda c: c.volume),
    ("oi", "Open int.", lambda c: c.open_interest),
    ("vol_oi", "Vol/OI", lambda c: -1.0 if c.vol_oi is None else c.vol_oi),
    ("iv", "IV", lambda c: -1.0 if c.iv is None else c.iv),
    ("last", "Last", lambda c: -1.0 if c.last is None else c.last),
    ("pct", "% of und.", lambda c: c.pct_of_underlying),
    ("contract", "Contract", lambda c: c.contract),
)
NUMERIC_FIRST_DESC = {"volume", "oi", "vol_oi", "iv", "last", "pct"}


class ContractsScreen(Screen[None]):
    """`underlying`'s contracts on `day`, most traded first; click a header to re-sort."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("s", "cycle_sort", "Sort", id="sort"),
        Binding("o", "app.open_chart_for_screen", "Chart", id="chart"),
    ]

    def __init__(
        self,
        underlying: str,
        day: date,
        contracts: list[ContractRow],
        total: int,
        *,
        source_note: str = "",
    ) -> None:
        super().__init__()
        self.underlying = underlying
        self.day = day
        self.contracts = contracts
        self.total = total
        self.source_note = source_note
        self.sort_key = "volume"
        self.descending = True

    def compose(self) -> ComposeResult:
        yield Static("", id="contracts-title", markup=False)
        yield DataTable(id="contracts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, _ in COLUMNS:
            justify: JustifyMethod = "left" if key in ("expiry", "right", "contract") else "right"
            table.add_column(Text(label, justify=justify), key=key)
        self._fill()
        table.focus()

    def _title(self, shown: int) -> Text:
        title = Text()
        title.append(f" {self.underlying} ", style="bold reverse")
        title.append(f" options · {self.day} · {fmt.count(self.total)} contracts traded")
        if self.source_note:
            title.append(f" · {self.source_note}", style="dim")
        arrow = "▼" if self.descending else "▲"
        label = next(label for key, label, _ in COLUMNS if key == self.sort_key)
        title.append(f"\n sorted by {label} {arrow}")
        if shown < len(self.contracts):
            title.append(f" · showing the top {shown:,} of {len(self.contracts):,}", style="yellow")
        unusual = sum(1 for c in self.contracts if c.unusual)
        if unusual:
            title.append(f" · {unusual} unusual (volume far above open interest)", style="yellow")
        return title

    def _fill(self) -> None:
        getter = next(fn for key, _, fn in COLUMNS if key == self.sort_key)
        ordered = sorted(self.contracts, key=getter, reverse=self.descending)[:MAX_ROWS]
        table = self.query_one(DataTable)
        table.clear()
        for c in ordered:
            style = "bold yellow" if c.unusual else ""
            table.add_row(
                Text(c.expiry.isoformat(), style=style),
                Text(str(c.days_to_expiry), justify="right"),
                Text(f"{c.strike:,.2f}".rstrip("0").rstrip("."), justify="right", style=style),
                Text(
                    "Call" if c.right == "C" else "Put", style="green" if c.right == "C" else "red"
                ),
                Text(f"{c.volume:,}", justify="right", style=style),
                Text(f"{c.open_interest:,}", justify="right"),
                Text("-" if c.vol_oi is None else f"{c.vol_oi:.2f}", justify="right", style=style),
                Text("-" if c.iv is None else f"{c.iv * 100:.1f}%", justify="right"),
                Text("-" if c.last is None else f"{c.last:,.2f}", justify="right"),
                Text(f"{c.pct_of_underlying * 100:.2f}%", justify="right"),
                Text(c.contract, style="dim"),
            )
        self.query_one("#contracts-title", Static).update(self._title(len(ordered)))

    def sort_by(self, key: str) -> None:
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key = key
            self.descending = key in NUMERIC_FIRST_DESC
        self._fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def action_cycle_sort(self) -> None:
        keys = [key for key, _, _ in COLUMNS]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.descending = self.sort_key in NUMERIC_FIRST_DESC
        self._fill()
