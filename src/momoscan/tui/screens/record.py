"""The record screen (`R`): every signal kind's track record from this database's history,
what followed the times momoscan raised it (as `momoscan record` prints it), and the
distribution of the highlighted kind's moves to the close. Escape closes it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...queries.records import records
from ...record_cli import PLOT_MIN, horizon_rows, summary
from ...record_plot import text_histogram
from ...signals import Record, badge, kind_words, short_label
from ...store import Store


def read_record(store: Store, move_pct: float) -> tuple[dict[str, Record], bool]:
    """On the reader thread: the records by kind, and whether the database is the simulated
    market's."""
    return records(store, move_pct=move_pct), store.get_meta("mode") == "demo"


#: The horizons' words, short enough for one line at 80 columns.
_SHORT_HORIZON = {
    "+15 min": "15m",
    "+1 h": "1h",
    "next close": "next",
    "best to close": "best",
    "worst to close": "worst",
}


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


class RecordScreen(Screen[None]):
    """A table of the kinds (label, what, measured, hits, median, worst, badge) and, under
    it, the highlighted kind's horizons and histogram."""

    DEFAULT_CSS = """
    RecordScreen #record-title { height: 2; padding: 0 1; background: $panel; }
    RecordScreen #record-kinds { height: 1fr; min-height: 5; }
    RecordScreen #record-detail { height: auto; max-height: 14; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back")]
    HELP_EXTRA = (("↑ ↓", "another signal kind: its horizons and distribution"),)

    def __init__(
        self,
        found: dict[str, Record],
        *,
        move_pct: float,
        min_sample: int,
        simulated: bool,
    ) -> None:
        super().__init__()
        self.records = dict(found)
        self.kinds = list(found)
        self.move_pct = move_pct
        self.min_sample = min_sample
        self.simulated = simulated

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="record-title", markup=False)
        yield DataTable(id="record-kinds", cursor_type="row", zebra_stripes=True)
        yield Static("", id="record-detail", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def _title(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" Signals' records ", style="bold reverse")
        if self.simulated:
            text.append(" SIMULATED ", style="bold black on yellow")
        text.append(f" hit: ≥{self.move_pct:g}% its way by the close")
        text.append("\n ")
        text.append(
            "Your history only: what followed before, no promise of what comes next.",
            style="dim",
        )
        return text

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (
            ("label", "Signal"),
            ("n", "n"),
            ("hits", f"≥{self.move_pct:g}%"),
            ("median", "Median"),
            ("worst", "Worst"),
            ("what", "What"),
        ):
            table.add_column(label, key=key)
        for kind in self.kinds:
            r = self.records[kind]
            share = f"{r.hits}/{r.count}" if r.count else "-"
            shown = badge(r, self.min_sample) is not None
            table.add_row(
                Text(short_label(kind), style="bold" if shown else "dim"),
                Text(str(r.count), justify="right"),
                Text(share, justify="right"),
                Text(_num(r.median), justify="right"),
                Text(_num(r.worst), justify="right"),
                Text(kind_words(kind), style="dim", no_wrap=True, overflow="ellipsis"),
                key=kind,
            )
        if not self.kinds:
            table.add_row(Text("none yet", style="dim"), "", "", "", "", "")
        table.focus()
        self._detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, row: int) -> None:
        detail = self.query_one("#record-detail", Static)
        if not self.kinds:
            detail.update(
                Text(
                    "No signal recorded yet: the collector records them as it runs and "
                    "measures what followed every few minutes of market time.",
                    style="dim",
                )
            )
            return
        kind = self.kinds[min(max(row, 0), len(self.kinds) - 1)]
        r = self.records[kind]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{short_label(kind)} ", style="bold")
        text.append(summary(r))
        shown = badge(r, self.min_sample)
        text.append("\n")
        text.append(
            f"badge: {shown}" if shown else f"no badge until {self.min_sample} are measured",
            style="green" if shown else "dim",
        )
        moves = " · ".join(
            f"{_SHORT_HORIZON.get(h, h)} {med}"
            for h, n, _, med, _, _ in horizon_rows(r)
            if n != "0"
        )
        text.append(f"\nmedian {moves}" if moves else "\nnothing measured yet", style="dim")
        if len(r.moves) >= PLOT_MIN:
            width = max(30, min(self.size.width - 2, 78))
            text.append("\nmoves to the close, % (signals a bin):", style="dim")
            text.append("\n" + text_histogram(r.moves, width=width, height=8))
        detail.update(text)
