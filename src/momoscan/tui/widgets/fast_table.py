"""A small keyed table drawn with Textual's line API, for the live panels.

Why not DataTable: its render caches are keyed on a table-wide update counter, so changing one
cell (the Age column changes on every read) re-renders every cell of the table through Rich's
wrapping machinery, about 0.35 ms a cell: 100 ms a screen update for the three live panels,
which is 100 ms the event loop cannot answer keys. This table renders each row once into a
strip, straight from the cells' Text segments, and re-renders only the rows whose cells changed.
The drill-down and history screens, shown one at a time and rarely refreshed, keep DataTable.

Cells are `rich.text.Text`, never strings, so names from the APIs can never be read as markup.

Columns are as wide as their widest cell, so a number is never cut: when the table is too
narrow for all of them, whole columns give way, lowest `priority` first, and a flexible
column (a name, a bar) takes whatever width the others leave, or goes when that is less than
its narrowest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from . import text_key


@dataclass(frozen=True)
class Column:
    """One column. `width` is its narrowest, in cells (a fixed column grows to its widest
    cell; a flexible one takes the width the others leave). When the table is too narrow,
    the column with the lowest `priority` is left out first."""

    key: str
    label: str
    width: int
    justify: JustifyMethod = "left"
    flex: bool = False
    priority: int = 0
    #: A flexible column's widest (None: no limit); what it cannot take goes to the others.
    most: int | None = None
    #: Left out while none of its cells has text (marks that most rows do not carry).
    hide_empty: bool = False


#: Cells around each cell: one space before and one after.
PAD = 2


def _fits(
    columns: Sequence[Column], natural: Sequence[int], shown: Sequence[int], width: int, pad: int
) -> int | None:
    """The room left for the flexible columns among `shown` with `pad` cells a column, or None
    when they do not get their narrowest."""
    flexes = [i for i in shown if columns[i].flex]
    fixed = sum(natural[i] for i in shown if not columns[i].flex)
    room = width - fixed - _gaps(len(shown), pad)
    if room < sum(columns[i].width for i in flexes):
        return None
    return room


def _gaps(count: int, pad: int) -> int:
    """The cells between and around `count` columns: a space either side of each (pad 2), or
    one after each and one before the first (pad 1, when that keeps a column the wider gaps
    would leave out)."""
    return count * pad + (1 if pad == 1 and count else 0)


def fit_columns(
    columns: Sequence[Column],
    natural: Sequence[int],
    width: int,
    empty: frozenset[int] = frozenset(),
) -> tuple[list[int], list[int], int]:
    """Which columns to show in `width` cells, how wide, and the gap: `(indices, widths, pad)`.

    Every fixed column gets its `natural` width (its widest cell, never less); flexible
    columns share what is left. When they do not all fit, the gaps narrow first (two cells
    to one); then columns are left out, lowest priority first, until the rest fit; then any
    left-out column that fits in what remains comes back (no table leaves cells blank while
    it drops a column). The column of highest priority always stays (cut at the edge if even
    it cannot fit). Columns in `empty` (`hide_empty` ones without text) are not shown.
    """
    shown = [i for i in range(len(columns)) if i not in empty]
    by_priority = sorted(shown, key=lambda i: (columns[i].priority, -i))
    pad = 2
    while len(shown) > 1:
        if _fits(columns, natural, shown, width, 2) is not None:
            break
        if _fits(columns, natural, shown, width, 1) is not None:
            pad = 1
            break
        shown.remove(next(i for i in by_priority if i in shown))
    if len(shown) < len(columns):
        for i in reversed(by_priority):  # the most important left-out column first
            if i in shown or i in empty:
                continue
            tried = sorted([*shown, i])
            if _fits(columns, natural, tried, width, pad) is not None:
                shown = tried
    room = max(0, _fits(columns, natural, shown, width, pad) or 0)
    flex_widths = _share(columns, [i for i in shown if columns[i].flex], room)
    return shown, [flex_widths.get(i, natural[i]) for i in shown], pad


def _share(columns: Sequence[Column], flexes: Sequence[int], room: int) -> dict[int, int]:
    """`room` cells among the flexible columns `flexes`: each its narrowest; then the capped
    ones (a sparkline) up to their `most`; then the rest in equal parts to the uncapped ones
    (a name), or to all when none is uncapped."""
    widths = {i: columns[i].width for i in flexes}
    left = room - sum(widths.values())
    for i in flexes:
        most = columns[i].most
        if most is not None and left > 0:
            grow = min(left, max(0, most - widths[i]))
            widths[i] += grow
            left -= grow
    takers = [i for i in flexes if columns[i].most is None] or list(flexes)
    if left > 0 and takers:
        share, extra = divmod(left, len(takers))
        for n, i in enumerate(takers):
            widths[i] += share + (1 if n < extra else 0)
    return widths


def _cell_segments(text: Text, width: int, justify: JustifyMethod) -> list[Segment]:
    """`text` as exactly `width` cells of segments: cropped with an ellipsis, or padded."""
    length = cell_len(text.plain)
    if length > width:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
        length = cell_len(text.plain)
    if text.spans:
        segments = list(text.render(_console()))  # the base style under each span's
    else:
        # Rich's `Text.render` leaves a text without spans unstyled (`Text.__rich_console__`
        # adds the base style afterwards): without this, every plain cell lost its colour.
        style = text.style
        segments = [Segment(text.plain, _console().get_style(style) if style else None)]
    gap = width - length
    if gap > 0:
        pad = Segment(" " * gap, text.style if isinstance(text.style, Style) else None)
        segments = [pad, *segments] if justify == "right" else [*segments, pad]
    return segments


#: Cells rendered, by content. A table's rows come and go as the ranking moves (in a later
#: refresh of 8,000 names the two movers tables drew about 1,300 rows whose key had just come
#: back on screen, and so whose cells had been forgotten); most of their cells (the rank, the
#: symbol, the name, often the volume) are ones drawn a moment before. Shared by every table,
#: holding the last few thousand cells.
CELL_CACHE_SIZE = 4096


@lru_cache(maxsize=CELL_CACHE_SIZE)
def _cell_by_content(
    plain: str, style: str | Style, spans: tuple[Span, ...], width: int, justify: JustifyMethod
) -> tuple[Segment, ...]:
    return tuple(_cell_segments(Text(plain, style=style, spans=list(spans)), width, justify))


def _cell(text: Text, width: int, justify: JustifyMethod) -> tuple[Segment, ...]:
    """`_cell_segments` of `text`, drawn once for each content (`text_key`) and width."""
    return _cell_by_content(*text_key(text), width, justify)


_CONSOLE: Console | None = None
_SPACE = Segment(" ")  # the gap on either side of a cell


def _console() -> Console:
    """A console only for turning Text into segments (no output, no terminal sniffing)."""
    global _CONSOLE
    if _CONSOLE is None:
        _CONSOLE = Console(
            width=200, color_system="truecolor", force_terminal=True, legacy_windows=False
        )
    return _CONSOLE


class FastTable(ScrollView, can_focus=True):
    """Rows keyed by a string, a fixed header, a row cursor, keyboard and mouse."""

    DEFAULT_CSS = """
    FastTable {
        background: $surface;
        color: $foreground;
        & > .fast-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .fast-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .fast-table--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .fast-table--cursor {
            background: $block-cursor-background;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fast-table--header",
        "fast-table--even-row",
        "fast-table--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    class RowHighlighted(Message):
        def __init__(self, table: FastTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> FastTable:
            return self.table

    class RowSelected(Message):
        """Enter on a row, or a click on the row already under the cursor."""

        def __init__(self, table: FastTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> FastTable:
            return self.table

    class CellClicked(Message):
        def __init__(self, table: FastTable, key: str, column: str) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.column = column

        @property
        def control(self) -> FastTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, zebra: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = list(columns)
        self.zebra = zebra
        self._ft_keys: list[str] = []
        self._ft_pos: dict[str, int] = {}  # each key's row index
        self._ft_cells: dict[str, tuple[Text, ...]] = {}
        self._ft_segments: dict[str, list[Segment]] = {}
        self._ft_cursor = 0
        # Each column's widest cell so far (never narrower than the column's own width or
        # label): widths grow with their content and never jitter back and forth.
        self._ft_natural = [max(c.width, cell_len(c.label)) for c in self.columns]
        self._ft_shown = list(range(len(self.columns)))
        self._ft_widths = [c.width for c in self.columns]
        self._ft_pad = PAD
        #: The `hide_empty` columns that have no text in any row now.
        self._ft_empty = frozenset(i for i, c in enumerate(self.columns) if c.hide_empty)
        self._ft_width = sum(self._ft_widths) + _gaps(len(self.columns), PAD)
        self._ft_strips: dict[tuple[str, str], Strip] = {}
        self._ft_styles: dict[str, Style] | None = None
        self._ft_styles_focus = False
        self._ft_header: Strip | None = None
        self.virtual_size = Size(self._ft_width, 1)

    # -- data --------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._ft_keys)

    @property
    def keys(self) -> list[str]:
        return list(self._ft_keys)

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns drawn at the current width, left to right."""
        return [self.columns[i].key for i in self._ft_shown]

    def column_width(self, column: str) -> int | None:
        """The drawn width of `column` in cells, or None when it is left out."""
        for i, width in zip(self._ft_shown, self._ft_widths, strict=True):
            if self.columns[i].key == column:
                return width
        return None

    def row(self, key: str) -> tuple[Text, ...]:
        return self._ft_cells[key]

    def cell(self, key: str, column: str) -> Text:
        return self._ft_cells[key][self._column_index(column)]

    def _column_index(self, column: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == column)

    def _forget(self, key: str) -> None:
        self._ft_segments.pop(key, None)
        for kind in ("base", "even", "cursor"):
            self._ft_strips.pop((key, kind), None)

    def _grow(self, row: Sequence[Text]) -> bool:
        """Widen columns to fit `row`'s cells; True when any grew."""
        grew = False
        for i, text in enumerate(row):
            if not self.columns[i].flex and not self.columns[i].hide_empty:
                length = text.cell_len
                if length > self._ft_natural[i]:
                    self._ft_natural[i] = length
                    grew = True
        return grew

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
        """Show `rows` (key, cells) in this order. Only the lines whose row changed (its
        cells, or the key at that place) are redrawn; the cursor stays on the key it was on
        (or in place, if that key went away)."""
        keep = self.selected_key
        old_keys, old_cursor = self._ft_keys, self._ft_cursor
        keys = []
        cells: dict[str, tuple[Text, ...]] = {}
        changed: set[str] = set()
        grew = False
        for key, row in rows:
            row = tuple(row)
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {key!r} has {len(row)} cells for {len(self.columns)} columns"
                )
            keys.append(key)
            cells[key] = row
            if self._ft_cells.get(key) != row:
                self._forget(key)
                changed.add(key)
                grew = self._grow(row) or grew
        for gone in set(self._ft_cells) - set(cells):
            self._forget(gone)
        empty = frozenset(
            i
            for i, c in enumerate(self.columns)
            if c.hide_empty and not any(row[i].plain for row in cells.values())
        )
        if empty != self._ft_empty:
            self._ft_empty = empty
            grew = True  # a column comes or goes: lay out again
        for i, c in enumerate(self.columns):
            if c.hide_empty:  # as wide as its widest cell now (marks come and go)
                widest = max([c.width, cell_len(c.label), *(r[i].cell_len for r in cells.values())])
                if widest != self._ft_natural[i]:
                    self._ft_natural[i] = widest
                    grew = True
        self._ft_keys, self._ft_cells = keys, cells
        self._ft_pos = {key: i for i, key in enumerate(keys)}
        self._set_virtual_size(Size(self._ft_width, len(keys) + 1))
        if keep is not None and keep in cells:
            self._ft_cursor = self._ft_pos[keep]
        else:
            self._ft_cursor = max(0, min(self._ft_cursor, len(keys) - 1))
        if grew:
            self._layout()
            self.refresh()
            return
        dirty = {
            i
            for i in range(max(len(old_keys), len(keys)))
            if i >= len(old_keys) or i >= len(keys) or old_keys[i] != keys[i] or keys[i] in changed
        }
        if self._ft_cursor != old_cursor:
            dirty |= {old_cursor, self._ft_cursor}
        self._refresh_lines(dirty)

    def _set_virtual_size(self, size: Size) -> None:
        """Set the scrollable size, without a layout pass of the whole screen (10-25 ms at
        150x45; a table's rows and widths change many times in a first refresh) unless a
        scrollbar appears or goes, which narrows the columns and so needs one. A table's own
        size comes from CSS, not from its rows. The short path is the one Textual's own
        `_size_updated(layout=False)` takes."""
        if size == self.virtual_size:
            return
        styles = self.styles
        width, height = self.container_size
        vertical = styles.overflow_y == "scroll" or (
            styles.overflow_y == "auto" and size.height > height
        )
        horizontal = styles.overflow_x == "scroll" or (
            styles.overflow_x == "auto" and size.width > width
        )
        scrollbars = (self.show_horizontal_scrollbar, self.show_vertical_scrollbar)
        if not self.container_size or (horizontal, vertical) != scrollbars:
            self.virtual_size = size  # the full path: layout, resize, columns refit
            return
        self.set_reactive(FastTable.virtual_size, size)
        self._scroll_update(size)

    def _refresh_lines(self, indices: Iterable[int]) -> None:
        """Redraw only the lines of these row indices that are on show: a table whose ages
        tick every second, or whose few streamed rows change, repaints those lines alone
        rather than the whole widget (Textual re-renders and re-filters every line of a
        widget refreshed whole)."""
        top = int(self.scroll_offset.y)
        width, height = self.size
        if not width or not height:
            self.refresh()
            return
        regions = [
            Region(0, y, width, 1)
            for y in sorted({i - top + 1 for i in indices})
            if 1 <= y < height
        ]
        if regions:
            self.refresh(*regions)

    def update_cell(self, key: str, column: str, text: Text) -> None:
        """Replace one cell; only its row's line is redrawn (and the table re-laid out only
        if the column had to grow)."""
        row = self._ft_cells.get(key)
        if row is None:
            return
        index = self._column_index(column)
        if row[index] == text:
            return
        cells = list(row)
        cells[index] = text
        self._ft_cells[key] = tuple(cells)
        self._forget(key)
        if self._grow(cells):
            self._layout()
            self.refresh()
            return
        self._refresh_lines([self._ft_pos[key]])

    @property
    def selected_key(self) -> str | None:
        if not self._ft_keys:
            return None
        return self._ft_keys[min(self._ft_cursor, len(self._ft_keys) - 1)]

    def select_key(self, key: str) -> bool:
        """Put the cursor on `key`; False if there is no such row."""
        if key not in self._ft_cells:
            return False
        self._move_to(self._ft_keys.index(key))
        return True

    # -- cursor ------------------------------------------------------------------------------

    def _move_to(self, index: int) -> None:
        if not self._ft_keys:
            return
        index = max(0, min(index, len(self._ft_keys) - 1))
        old = self._ft_cursor
        changed = index != old
        self._ft_cursor = index
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False)
            self.refresh()
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False)
            self.refresh()
        else:
            self._refresh_lines({old, index})
        if changed:
            self.post_message(self.RowHighlighted(self, self._ft_keys[index]))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self._ft_cursor + delta)

    def action_cursor_to(self, index: int) -> None:
        self._move_to(index if index >= 0 else len(self._ft_keys) - 1)

    def action_select(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)  # inside the border, if the table has one
        if offset is None or offset.y == 0:
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if not 0 <= index < len(self._ft_keys):
            return
        key = self._ft_keys[index]
        already = index == self._ft_cursor
        self._move_to(index)
        x = offset.x + int(self.scroll_offset.x) - (1 if self._ft_pad == 1 else 0)
        for i, width in zip(self._ft_shown, self._ft_widths, strict=True):
            if x < width + self._ft_pad:
                self.post_message(self.CellClicked(self, key, self.columns[i].key))
                break
            x -= width + self._ft_pad
        if already:
            self.post_message(self.RowSelected(self, key))

    # -- drawing -----------------------------------------------------------------------------

    def _row_segments(self, key: str) -> list[Segment]:
        cached = self._ft_segments.get(key)
        if cached is None:
            cached = []
            row = self._ft_cells[key]
            # A row whose Age alone changed draws that one cell again, not all nine: the
            # others are found by content (`_cell`).
            wide = self._ft_pad == 2
            if not wide:
                cached.append(_SPACE)
            for i, width in zip(self._ft_shown, self._ft_widths, strict=True):
                if wide:
                    cached.append(_SPACE)
                cached.extend(_cell(row[i], width, self.columns[i].justify))
                cached.append(_SPACE)
            # Neighbouring segments of one style (a cell's padding, its text, the gap to the
            # next) joined once here, before the row's style is added to each: the three
            # strips of a row (plain, zebra, cursor) and every frame's cropping, colour
            # filter and rendering then walk a quarter as many (35 to 9 on a movers row:
            # the unstyled cells and their gaps run together, the coloured ones stand apart).
            cached = list(Segment.simplify(cached))
            self._ft_segments[key] = cached
        return cached

    def _header_segments(self) -> list[Segment]:
        out = []
        wide = self._ft_pad == 2
        if not wide:
            out.append(_SPACE)
        for i, width in zip(self._ft_shown, self._ft_widths, strict=True):
            column = self.columns[i]
            if wide:
                out.append(_SPACE)
            out.extend(_cell_segments(Text(column.label), width, column.justify))
            out.append(_SPACE)
        return list(Segment.simplify(out))  # joined by style, as a row's are

    def _styles(self) -> dict[str, Style]:
        """The row styles, looked up once per style change or focus change (not per line)."""
        key = self.has_focus
        if self._ft_styles is None or self._ft_styles_focus != key:
            base = self.rich_style
            self._ft_styles = {
                "base": base,
                "header": base + self.get_component_rich_style("fast-table--header"),
                "even": base + self.get_component_rich_style("fast-table--even-row"),
                "cursor": base + self.get_component_rich_style("fast-table--cursor"),
            }
            self._ft_styles_focus = key
            self._ft_strips.clear()
            self._ft_header = None
        return self._ft_styles

    def _strip(self, index: int, styles: dict[str, Style]) -> Strip:
        key = self._ft_keys[index]
        kind = (
            "cursor" if index == self._ft_cursor else "even" if self.zebra and index % 2 else "base"
        )
        cached = self._ft_strips.get((key, kind))
        if cached is None:
            segments = Segment.apply_style(self._row_segments(key), styles[kind])
            cached = Strip(segments, self._ft_width)
            self._ft_strips[(key, kind)] = cached
        return cached

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        styles = self._styles()
        if y == 0:
            if self._ft_header is None:
                self._ft_header = Strip(
                    Segment.apply_style(self._header_segments(), styles["header"]), self._ft_width
                )
            strip, style = self._ft_header, styles["header"]
        else:
            index = int(self.scroll_offset.y) + y - 1
            if index >= len(self._ft_keys):
                return Strip.blank(width, styles["base"])
            strip, style = self._strip(index, styles), styles["base"]
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)

    def _layout(self) -> None:
        """Choose the columns and their widths for the current width (see `fit_columns`)."""
        available = self.scrollable_content_region.width or self.size.width
        if available <= 0:
            return
        shown, widths, pad = fit_columns(self.columns, self._ft_natural, available, self._ft_empty)
        if (shown, widths, pad) == (self._ft_shown, self._ft_widths, self._ft_pad):
            return
        self._ft_shown, self._ft_widths, self._ft_pad = shown, widths, pad
        self._ft_width = sum(widths) + _gaps(len(widths), pad)
        self._set_virtual_size(Size(self._ft_width, len(self._ft_keys) + 1))
        self._ft_segments.clear()
        self._ft_strips.clear()
        self._ft_header = None
        self.layout_changed()
        self.refresh()

    def layout_changed(self) -> None:
        """Called after the shown columns or their widths changed (a bar redraws to fit)."""

    def on_resize(self) -> None:
        self._layout()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._ft_segments.clear()
        self._ft_strips.clear()
        self._ft_styles = None
        self._ft_header = None
