"""The drill-down's table: every contract of an underlying (SPX has ~38,000), sortable by any
column, drawn with Textual's line API.

Why not DataTable: filling one with 38,000 rows (or even the top 1,000) builds a Rich Text per
cell and takes the UI thread for half a second or more on a loaded machine; a re-sort did it
again. Here a sort is a NumPy argsort of one column (a few milliseconds for 38,000 numbers,
cached per column and direction), and a screen update formats only the rows in view, straight
into segments: one frame of work, whatever the chain's size.

Cells are plain strings of our own formatting (numbers, dates, OCC symbols), never markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...queries import ContractRow

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class ContractColumn:
    key: str
    label: str
    right: bool  # justified right (numbers)
    descending_first: bool  # the first sort by it puts the biggest first


COLUMNS: tuple[ContractColumn, ...] = (
    ContractColumn("expiry", "Expiry", False, False),
    ContractColumn("dte", "DTE", True, False),
    ContractColumn("strike", "Strike", True, False),
    ContractColumn("right", "C/P", False, False),
    ContractColumn("volume", "Volume", True, True),
    ContractColumn("oi", "Open int.", True, True),
    ContractColumn("vol_oi", "Vol/OI", True, True),
    ContractColumn("iv", "IV", True, True),
    ContractColumn("last", "Last", True, True),
    ContractColumn("pct", "% of und.", True, True),
    ContractColumn("contract", "Contract", False, False),
)
KEYS = [c.key for c in COLUMNS]


def _strike(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _cells(c: ContractRow) -> tuple[str, ...]:
    """One contract's cells, in COLUMNS order."""
    return (
        c.expiry.isoformat(),
        str(c.days_to_expiry),
        _strike(c.strike),
        "Call" if c.right == "C" else "Put",
        f"{c.volume:,}",
        f"{c.open_interest:,}",
        "-" if c.vol_oi is None else f"{c.vol_oi:.2f}",
        "-" if c.iv is None else f"{c.iv * 100:.1f}%",
        "-" if c.last is None else f"{c.last:,.2f}",
        f"{c.pct_of_underlying * 100:.2f}%",
        c.contract,
    )


class ContractData:
    """A chain's contracts as sort keys, one NumPy array a column, with each column's width.

    Built once per drill-down, off the UI thread: `ContractData(rows)` takes ~80 ms for
    38,000 contracts, ~16 ms of it sorting every column both ways up front (NumPy releases
    the GIL while it sorts), so a sort key on the UI thread is a lookup, not a sort of up to
    4 ms (11 under load) inside the frame it must draw.
    """

    def __init__(self, rows: Sequence[ContractRow]) -> None:
        # NumPy on first use: a window that never drills down (a serve tab, a viewer) never
        # loads it (11.5 MiB of each tab's memory, bench/serve_tabs.py --imports).
        import numpy as np

        self.rows = list(rows)
        n = len(self.rows)

        def floats(get: Callable[[ContractRow], float | None]) -> NDArray[np.float64]:
            # A missing figure sorts below every real one.
            return np.fromiter(
                (-1.0 if (v := get(c)) is None else v for c in self.rows), np.float64, n
            )

        self.keys: dict[str, NDArray[Any]] = {
            "expiry": np.fromiter((c.expiry.toordinal() for c in self.rows), np.int64, n),
            "dte": np.fromiter((c.days_to_expiry for c in self.rows), np.int64, n),
            "strike": floats(lambda c: c.strike),
            "right": np.fromiter((c.right == "P" for c in self.rows), np.int8, n),
            "volume": np.fromiter((c.volume for c in self.rows), np.int64, n),
            "oi": np.fromiter((c.open_interest for c in self.rows), np.int64, n),
            "vol_oi": floats(lambda c: c.vol_oi),
            "iv": floats(lambda c: c.iv),
            "last": floats(lambda c: c.last),
            "pct": floats(lambda c: c.pct_of_underlying),
            "contract": np.array([c.contract for c in self.rows], dtype=str),
        }
        self.widths = self._widths()
        self._orders: dict[tuple[str, bool], NDArray[np.intp]] = {}
        for column in COLUMNS:
            for descending in (True, False):
                self.order(column.key, descending)

    def _widths(self) -> list[int]:
        """Each column as wide as its widest cell (found from the extremes, not by
        formatting every contract)."""
        import numpy as np

        if not self.rows:
            return [len(c.label) for c in COLUMNS]
        k = self.keys
        rows = self.rows

        def widest(key: str) -> ContractRow:
            return rows[int(np.argmax(k[key]))]

        samples = [
            _cells(widest(key)) for key in ("dte", "strike", "volume", "oi", "vol_oi", "iv", "last")
        ]
        widths = []
        for index, column in enumerate(COLUMNS):
            width = max(len(column.label) + 2, *(len(s[index]) for s in samples))  # + arrow
            if column.key == "contract":
                width = max(width, max(len(c.contract) for c in rows))
            elif column.key == "pct":
                width = max(width, len("100.00%"))
            elif column.key == "expiry":
                width = max(width, 10)
            elif column.key == "right":
                width = max(width, 4)
            widths.append(width)
        return widths

    def __len__(self) -> int:
        return len(self.rows)

    def order(self, key: str, descending: bool) -> NDArray[np.intp]:
        """Row indices sorted by `key`. Stable, from the rows' own order (most traded first),
        so ties (one expiry, one strike) keep the most traded first."""
        import numpy as np

        cached = self._orders.get((key, descending))
        if cached is None:
            values = self.keys[key]
            if descending and values.dtype.kind in "if":
                cached = np.argsort(-values, kind="stable")
            elif descending:
                cached = np.argsort(values, kind="stable")[::-1].copy()
            else:
                cached = np.argsort(values, kind="stable")
            self._orders[(key, descending)] = cached
        return cached


class ContractTable(ScrollView, can_focus=True):
    """The contracts of a `ContractData`, in the order of the current sort."""

    DEFAULT_CSS = """
    ContractTable {
        background: $surface;
        color: $foreground;
        & > .contract-table--header { text-style: bold; background: $panel; }
        & > .contract-table--even-row { background: $surface-lighten-1 50%; }
        & > .contract-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .contract-table--cursor { background: $block-cursor-background; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "contract-table--header",
        "contract-table--even-row",
        "contract-table--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
    ]

    class HeaderClicked(Message):
        def __init__(self, table: ContractTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> ContractTable:
            return self.table

    #: Formatted rows kept (a screenful or two is all that is ever drawn).
    CACHE_ROWS = 400

    def __init__(self, data: ContractData, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.sort_key = "volume"
        self.descending = True
        self._order = data.order("volume", True)
        self.cursor = 0
        self._cells: dict[int, tuple[str, ...]] = {}
        self._width = sum(data.widths) + 2 * len(COLUMNS)
        self._styles: dict[str, Style] | None = None
        self.virtual_size = Size(self._width, len(data) + 1)

    def visible_columns(self) -> list[str]:
        """The keys of the columns wholly in view at the current width and horizontal scroll
        (all of them before the table has a size)."""
        width = self.scrollable_content_region.width or self.size.width
        if width <= 0:
            return list(KEYS)
        left = int(self.scroll_offset.x)
        seen, x = [], 0
        for column, cells in zip(COLUMNS, self.data.widths, strict=True):
            if x >= left and x + cells + 2 <= left + width:
                seen.append(column.key)
            x += cells + 2
        return seen

    # -- sorting -----------------------------------------------------------------------------

    def sort(self, key: str, descending: bool) -> None:
        """Show the contracts sorted by `key`, cursor on the first row."""
        self.sort_key, self.descending = key, descending
        self._order = self.data.order(key, descending)
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def row_at(self, position: int) -> ContractRow:
        """The contract shown at `position` (0 is the first row under the header)."""
        return self.data.rows[int(self._order[position])]

    def shown(self, first: int = 0, count: int | None = None) -> list[ContractRow]:
        """The contracts from position `first` on, in the order shown."""
        end = len(self.data) if count is None else min(len(self.data), first + count)
        return [self.row_at(p) for p in range(first, end)]

    # -- cursor ------------------------------------------------------------------------------

    def _move_to(self, position: int) -> None:
        if not len(self.data):
            return
        self.cursor = max(0, min(position, len(self.data) - 1))
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, pages: int) -> None:
        self._move_to(self.cursor + pages * max(1, self.size.height - 2))

    def action_cursor_to(self, position: int) -> None:
        self._move_to(position if position >= 0 else len(self.data) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x = offset.x + int(self.scroll_offset.x)
        if offset.y == 0:
            for column, width in zip(COLUMNS, self.data.widths, strict=True):
                if x < width + 2:
                    self.post_message(self.HeaderClicked(self, column.key))
                    return
                x -= width + 2
            return
        position = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= position < len(self.data):
            self._move_to(position)

    # -- drawing -----------------------------------------------------------------------------

    def _style_set(self) -> dict[str, Style]:
        if self._styles is None:
            base = self.rich_style
            self._styles = {
                "base": base,
                "header": base + self.get_component_rich_style("contract-table--header"),
                "even": base + self.get_component_rich_style("contract-table--even-row"),
                "cursor": base + self.get_component_rich_style("contract-table--cursor"),
                "call": Style(color="green"),
                "put": Style(color="red"),
                "unusual": Style(color="yellow", bold=True),
                "dim": Style(dim=True),
            }
        return self._styles

    def _row_cells(self, index: int) -> tuple[str, ...]:
        cells = self._cells.get(index)
        if cells is None:
            if len(self._cells) >= self.CACHE_ROWS:
                self._cells.clear()
            cells = self._cells[index] = _cells(self.data.rows[index])
        return cells

    def _header_strip(self, styles: dict[str, Style]) -> Strip:
        segments = []
        for column, width in zip(COLUMNS, self.data.widths, strict=True):
            label = column.label
            if column.key == self.sort_key:
                label += " ▼" if self.descending else " ▲"
            text = label.rjust(width) if column.right else label.ljust(width)
            segments.append(Segment(f" {text} ", styles["header"]))
        return Strip(segments, self._width)

    def _row_strip(self, position: int, styles: dict[str, Style]) -> Strip:
        index = int(self._order[position])
        row = self.data.rows[index]
        cells = self._row_cells(index)
        kind = "cursor" if position == self.cursor else "even" if position % 2 else "base"
        background = styles[kind]
        segments = []
        for i, (column, width) in enumerate(zip(COLUMNS, self.data.widths, strict=True)):
            text = cells[i].rjust(width) if column.right else cells[i].ljust(width)
            if column.key == "right":
                style = background + styles["call" if row.right == "C" else "put"]
            elif column.key == "contract":
                style = background + styles["dim"]
            elif row.unusual and column.key in ("expiry", "strike", "volume", "vol_oi"):
                style = background + styles["unusual"]
            else:
                style = background
            segments.append(Segment(f" {text} ", style))
        return Strip(segments, self._width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        styles = self._style_set()
        if y == 0:
            strip, fill = self._header_strip(styles), styles["header"]
        else:
            position = int(self.scroll_offset.y) + y - 1
            if position >= len(self.data):
                return Strip.blank(width, styles["base"])
            strip = self._row_strip(position, styles)
            kind = "cursor" if position == self.cursor else "even" if position % 2 else "base"
            fill = styles[kind]  # the row's own background, to the right edge
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, fill)

    def on_resize(self) -> None:
        # At least as wide as the view, so the rows' background reaches its right edge.
        width = max(self._width, self.scrollable_content_region.width)
        self.virtual_size = Size(width, len(self.data) + 1)

    def on_focus(self) -> None:
        self._styles = None  # the cursor's colour follows focus
        self.refresh()

    def on_blur(self) -> None:
        self._styles = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
