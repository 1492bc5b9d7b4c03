"""The drill-down: an underlying's option contracts for a day, every one of them, sortable by
any column (a key or a click on a header)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ... import format as fmt
from ..widgets.contract_table import COLUMNS, KEYS, ContractData, ContractTable

if TYPE_CHECKING:
    from ..app import MomoscanApp


class ContractsScreen(Screen[None]):
    """`underlying`'s contracts on `day`, most traded first."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back"),
        Binding("s", "cycle_sort", "Sort", id="sort", tooltip="sort by the next column"),
        Binding(
            "S",
            "reverse_sort",
            "Reverse",
            id="reverse",
            tooltip="reverse the sort (a click on the sorted header does too)",
        ),
        Binding("o", "chart", "Chart", id="chart", tooltip="the underlying's TradingView chart"),
    ]
    HELP_EXTRA = (
        ("click a header", "sort by that column (again: reverse)"),
        ("↑ ↓ PgUp PgDn", "move through the contracts (Home, End too)"),
    )

    def __init__(
        self, underlying: str, day: date, data: ContractData, *, source_note: str = ""
    ) -> None:
        super().__init__()
        self.underlying = underlying
        self.day = day
        self.data = data
        self.total = int(data.keys["volume"].sum()) if len(data) else 0
        self.unusual = sum(1 for c in data.rows if c.unusual)
        self.source_note = source_note

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="contracts-title", markup=False)
        yield ContractTable(self.data, id="contracts")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(ContractTable)
        table.focus()
        # Scrolled sideways, the column sorted by comes into view or goes out of it.
        self.watch(table, "scroll_x", lambda _old, _new: self._retitle(), init=False)

    @property
    def table(self) -> ContractTable:
        return self.query_one(ContractTable)

    @property
    def sort_key(self) -> str:
        return self.table.sort_key

    @property
    def descending(self) -> bool:
        return self.table.descending

    def _title(self, key: str = "volume", descending: bool = True) -> Text:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f" {self.underlying} ", style="bold reverse")
        title.append(
            f" options · {self.day} · {fmt.count(self.total)} contracts traded in "
            f"{len(self.data):,} series"
        )
        if self.source_note:
            title.append(f" · {self.source_note}", style="dim")
        label = next(c.label for c in COLUMNS if c.key == key)
        title.append(f"\n sorted by {label} {'▼' if descending else '▲'}")
        if key not in self._shown_keys():
            title.append(" (off screen: scroll right)", style="yellow")
        if self.unusual:
            title.append(
                f" · {self.unusual} unusual (volume far above open interest)", style="yellow"
            )
        title.append(" · s: next column, S: reverse, click a header", style="dim")
        return title

    def sort_by(self, key: str, descending: bool | None = None) -> None:
        """Sort by `key`: the same column again reverses it; a new one starts from its
        natural direction (biggest first for figures)."""
        table = self.table
        if descending is None:
            if key == table.sort_key:
                descending = not table.descending
            else:
                descending = next(c.descending_first for c in COLUMNS if c.key == key)
        table.sort(key, descending)
        # The title's height is fixed (2 lines, CSS), so it needs no layout pass: with one,
        # every key repainted the whole screen, background included, twice.
        self.query_one("#contracts-title", Static).update(
            self._title(key, descending), layout=False
        )

    def on_contract_table_header_clicked(self, event: ContractTable.HeaderClicked) -> None:
        self.sort_by(event.column)

    def _shown_keys(self) -> list[str]:
        """The columns in view (all of them before the table is laid out)."""
        tables = self.query(ContractTable)
        return tables.first().visible_columns() if tables else list(KEYS)

    def action_cycle_sort(self) -> None:
        """The next column in view: `s` never sorts by a column one cannot see (a click on
        a header, or scrolling there first, still sorts by any)."""
        shown = set(self._shown_keys()) or set(KEYS)
        start = KEYS.index(self.table.sort_key)
        order = [KEYS[(start + n) % len(KEYS)] for n in range(1, len(KEYS) + 1)]
        key = next(k for k in order if k in shown)
        self.sort_by(key, next(c.descending_first for c in COLUMNS if c.key == key))

    def on_resize(self) -> None:
        # Narrower, the column sorted by may go off screen: the title says so.
        if self.query(ContractTable):
            self.call_after_refresh(self._retitle)

    def _retitle(self) -> None:
        if self.query(ContractTable):
            title = self._title(self.table.sort_key, self.table.descending)
            self.query_one("#contracts-title", Static).update(title, layout=False)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.table.sort_key, not self.table.descending)

    def action_chart(self) -> None:
        cast("MomoscanApp", self.app).open_chart_soon(self.underlying)
