"""A treemap of the day's options volume: one block per underlying, area = share of volume."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.color import Color, blend_rgb
from rich.color_triplet import ColorTriplet
from rich.errors import StyleSyntaxError
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from momoscan.tui.treemap_layout import Cell, squarify

__all__ = ["Block", "Treemap"]


@dataclass(frozen=True)
class Block:
    """One underlying in the treemap.

    Attributes:
        key: The underlying's symbol; identifies the block in messages and selection.
        label: The headline shown in bold, e.g. ``"NVDA"``.
        share: The block's weight; only proportions between blocks matter.
        detail: A second line, e.g. ``"39.2% · 588.6K"``.
        style: A Rich style string for the block, e.g. ``"on dark_green"``.
        flag: An optional badge shown in reverse, e.g. ``"NEW"``.
    """

    key: str
    label: str
    share: float
    detail: str
    style: str = ""
    flag: str = ""


# How much darker a block's separator row and column are than the block itself.
_SEPARATOR_DARKEN = 0.45
_BLACK = ColorTriplet(0, 0, 0)

_Direction = tuple[int, int]


def _printable(text: str) -> str:
    """``text`` with control characters blanked: they would corrupt the terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else " " for char in text)


def _whole_parts(text: str, cells: int) -> str:
    """As many whole " · "-separated parts of ``text`` as fit in ``cells``: a figure is shown
    whole or not at all (a cut "0.5…" reads as a different number)."""
    parts = text.split(" · ")
    while parts and cell_len(" · ".join(parts)) > cells:
        parts.pop()
    return " · ".join(parts)


def _crop(text: str, cells: int, *, ellipsis: bool) -> str:
    """``text`` cut to at most ``cells`` terminal cells, wide characters included."""
    if cells <= 0:
        return ""
    if cell_len(text) <= cells:
        return text
    if ellipsis and cells >= 2:
        return set_cell_size(text, cells - 1) + "…"
    return set_cell_size(text, cells)


class Treemap(Widget, can_focus=True):
    """Blocks whose areas are their shares of the panel, with a keyboard and mouse cursor.

    The text in blocks is drawn as plain segments and is never parsed as markup.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor('up')", "Up", show=False),
        Binding("down", "cursor('down')", "Down", show=False),
        Binding("left", "cursor('left')", "Left", show=False),
        Binding("right", "cursor('right')", "Right", show=False),
        Binding("enter", "select", "Contracts", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "treemap--block",
        "treemap--label",
        "treemap--flag",
        "treemap--cursor",
        "treemap--cursor-blurred",
        "treemap--empty",
    }

    DEFAULT_CSS = """
    Treemap {
        height: 1fr;
        min-height: 3;
        & > .treemap--block { color: $foreground; background: $panel; }
        & > .treemap--label { text-style: bold; }
        & > .treemap--flag { text-style: bold reverse; }
        & > .treemap--cursor { color: $accent; text-style: bold; }
        & > .treemap--cursor-blurred { text-style: dim; }
        & > .treemap--empty { text-style: dim; }
    }
    """

    # A character cell is about twice as tall as it is wide; blocks are squared visually.
    ASPECT: ClassVar[float] = 2.0

    _DIRECTIONS: ClassVar[dict[str, _Direction]] = {
        "up": (0, -1),
        "down": (0, 1),
        "left": (-1, 0),
        "right": (1, 0),
    }

    empty_message: reactive[str] = reactive("No options volume yet.")
    """Shown, centred and dim, while there is nothing to draw."""

    class Highlighted(Message):
        """The selection moved: by keyboard, mouse, or new data. ``key`` is None if cleared."""

        def __init__(self, treemap: Treemap, key: str | None) -> None:
            super().__init__()
            self.treemap: Treemap = treemap
            self.key: str | None = key

        @property
        def control(self) -> Treemap:
            """The treemap that sent the message."""
            return self.treemap

    class Selected(Message):
        """A block was chosen, with Enter or a click."""

        def __init__(self, treemap: Treemap, key: str) -> None:
            super().__init__()
            self.treemap: Treemap = treemap
            self.key: str = key

        @property
        def control(self) -> Treemap:
            """The treemap that sent the message."""
            return self.treemap

    def __init__(
        self,
        blocks: Sequence[Block] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._blocks: list[Block] = []
        self._selected: int | None = None
        # Bumped whenever the blocks change, so the caches below know they are stale.
        self._version = 0
        self._layout_key: tuple[Size, int] | None = None
        self._layout: list[Cell | None] = []
        self._lines_key: tuple[object, ...] | None = None
        self._lines: list[Strip] = []
        self._style_cache: dict[str, Style] = {}
        if blocks:
            self._replace_blocks(list(blocks))

    # Data and selection

    @property
    def blocks(self) -> list[Block]:
        """A copy of the blocks on display."""
        return list(self._blocks)

    @property
    def selected_key(self) -> str | None:
        """The key of the selected block, or None when there are no blocks."""
        return None if self._selected is None else self._blocks[self._selected].key

    @selected_key.setter
    def selected_key(self, key: str | None) -> None:
        if key is None:
            self._select(None)
            return
        index = self._index_of(key)
        if index is None:
            raise ValueError(f"no block with key {key!r}")
        self._select(index)

    def set_blocks(self, blocks: Sequence[Block]) -> None:
        """Replace the blocks, keeping the selection on the same key if it is still there.

        Otherwise the first block is selected. Keys should be unique; with duplicates the
        first block with a key stands for it.
        """
        old_key = self.selected_key
        self._replace_blocks(list(blocks))
        if self.selected_key != old_key:
            self.post_message(self.Highlighted(self, self.selected_key))
        self.refresh()

    def _replace_blocks(self, blocks: list[Block]) -> None:
        old_key = self.selected_key
        self._blocks = [
            Block(
                key=block.key,
                label=_printable(block.label),
                share=block.share if math.isfinite(block.share) and block.share > 0 else 0.0,
                detail=_printable(block.detail),
                style=block.style,
                flag=_printable(block.flag),
            )
            for block in blocks
        ]
        self._version += 1
        kept = None if old_key is None else self._index_of(old_key)
        self._selected = kept if kept is not None else (0 if self._blocks else None)

    def _index_of(self, key: str) -> int | None:
        for index, block in enumerate(self._blocks):
            if block.key == key:
                return index
        return None

    def _select(self, index: int | None) -> None:
        if index == self._selected:
            return
        self._selected = index
        self.post_message(self.Highlighted(self, self.selected_key))
        self.refresh()

    # Layout

    def cells(self) -> list[Cell | None]:
        """Each block's rectangle in content coordinates at the current size, in block order."""
        key = (self.size, self._version)
        if key != self._layout_key:
            width, height = self.size
            shares = [block.share for block in self._blocks]
            self._layout = squarify(shares, width, height, aspect=self.ASPECT)
            self._layout_key = key
        return self._layout

    def block_at(self, x: int, y: int) -> Block | None:
        """The block drawn at content offset (``x``, ``y``), if any."""
        index = self._index_at(x, y)
        return None if index is None else self._blocks[index]

    def _index_at(self, x: int, y: int) -> int | None:
        for index, cell in enumerate(self.cells()):
            if cell is not None and cell.contains(x, y):
                return index
        return None

    # Actions and events

    def action_cursor(self, direction: str) -> None:
        """Move the selection to the nearest block in ``direction`` (up/down/left/right)."""
        cells = self.cells()
        current = None if self._selected is None else cells[self._selected]
        if current is None:
            # Nothing visible selected (no data yet, or the block shrank away): start over.
            first = next((i for i, cell in enumerate(cells) if cell is not None), None)
            if first is not None:
                self._select(first)
            return
        target = self._neighbour(cells, current, self._DIRECTIONS[direction])
        if target is not None:
            self._select(target)

    def _neighbour(
        self, cells: list[Cell | None], current: Cell, direction: _Direction
    ) -> int | None:
        """The nearest block whose centre lies in ``direction`` from ``current``'s centre.

        Blocks level with ``current`` (sharing rows for left/right, columns for up/down) come
        first, so Right goes to the neighbour beside the block rather than to a closer one
        above or below it. Other blocks count only within 45 degrees of the direction, so Up
        from a full-height block does not leap sideways across the panel. Distances are
        measured visually, with rows counted as ``ASPECT`` columns.
        """
        dx, dy = direction

        def centre(cell: Cell) -> tuple[float, float]:
            return cell.x + cell.width / 2, (cell.y + cell.height / 2) * self.ASPECT

        cx, cy = centre(current)
        best: tuple[int, float] | None = None
        best_index: int | None = None
        for index, cell in enumerate(cells):
            if cell is None or index == self._selected:
                continue
            ox, oy = centre(cell)
            along = (ox - cx) * dx + (oy - cy) * dy
            if along <= 0:
                continue
            across = (ox - cx) * dy + (oy - cy) * dx
            if dx:
                level = cell.y < current.y + current.height and current.y < cell.y + cell.height
            else:
                level = cell.x < current.x + current.width and current.x < cell.x + cell.width
            if not level and along < abs(across):
                continue  # more sideways than that way: not "in that direction"
            score = (0 if level else 1, math.hypot(along, across))
            if best is None or score < best:
                best, best_index = score, index
        return best_index

    def action_select(self) -> None:
        """Post :class:`Treemap.Selected` for the selected block, if it is on screen."""
        # A block too small to draw cannot be seen to be selected: Enter must not open it.
        if self._selected is not None and self.cells()[self._selected] is not None:
            self.post_message(self.Selected(self, self._blocks[self._selected].key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self._index_at(offset.x, offset.y)
        if index is None:
            return
        event.stop()
        self._select(index)
        self.post_message(self.Selected(self, self._blocks[index].key))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Theme or CSS changed: every cached colour may be stale.
        self._lines_key = None
        self._style_cache.clear()

    # Rendering

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (self.size, self._version, self._selected, self.has_focus, self.empty_message)
        if key != self._lines_key:
            self._lines = self._render_all(width, height)
            self._lines_key = key
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(width, self.rich_style)

    def _render_all(self, width: int, height: int) -> list[Strip]:
        """Render every line at once: a block's rows are cheapest to build together."""
        cells = self.cells()
        placed = [(cell, index) for index, cell in enumerate(cells) if cell is not None]
        if not placed:
            return self._render_empty(width, height)

        rows: list[list[Segment]] = [[] for _ in range(height)]
        # Left to right, so each row's segments are appended in screen order. The layout
        # tiles the area exactly, so every row ends up exactly `width` cells long.
        for cell, index in sorted(placed, key=lambda item: item[0].x):
            block_rows = self._render_block(self._blocks[index], cell, index == self._selected)
            for offset, segments in enumerate(block_rows):
                rows[cell.y + offset].extend(segments)
        return [Strip(segments, width) for segments in rows]

    def _render_empty(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        lines = [Strip.blank(width, base) for _ in range(height)]
        if height and width:
            message = _crop(_printable(self.empty_message), width, ellipsis=True)
            style = self.get_component_rich_style("treemap--empty")
            left = (width - cell_len(message)) // 2
            right = width - left - cell_len(message)
            segments = [
                Segment(" " * left, base),
                Segment(message, style),
                Segment(" " * right, base),
            ]
            lines[height // 2] = Strip(segments, width)
        return lines

    def _block_style(self, block: Block) -> Style:
        """The block's fill: the widget's style, the default block style, then the block's own."""
        style = self._style_cache.get(block.style)
        if style is None:
            try:
                own = Style.parse(block.style) if block.style else Style()
            except StyleSyntaxError:
                own = Style()  # a bad style string should cost colour, not the whole panel
            style = (
                self.rich_style
                + self.get_component_rich_style("treemap--block", partial=True)
                + own
            )
            self._style_cache[block.style] = style
        return style

    def _separator_style(self, fill: Style) -> Style:
        background = fill.bgcolor
        if background is None or background.is_default:
            background = self.background_colors[1].rich_color
        darker = blend_rgb(background.get_truecolor(), _BLACK, _SEPARATOR_DARKEN)
        return Style(bgcolor=Color.from_triplet(darker))

    def _render_block(self, block: Block, cell: Cell, selected: bool) -> list[list[Segment]]:
        """The block's rows, each exactly ``cell.width`` cells wide.

        Every block draws its own right column and bottom row darker, so neighbours stay
        distinct while each block's area, separator included, is still its share. The
        selected block gets a box border in place of the separators when it is big enough,
        and is drawn reversed when it is not.
        """
        fill = self._block_style(block)
        focused = self.has_focus
        width, height = cell.width, cell.height
        bordered = selected and width >= 3 and height >= 3
        if selected and not bordered:
            fill += Style(reverse=True) if focused else Style(underline=True)

        lines: list[tuple[str, Style]] = [
            (block.label, fill + self.get_component_rich_style("treemap--label", partial=True))
        ]
        if block.detail:
            lines.append((block.detail, fill))
        if block.flag:
            lines.append(
                (block.flag, fill + self.get_component_rich_style("treemap--flag", partial=True))
            )

        if bordered:
            inner_width, inner_height = width - 2, height - 2
        else:
            inner_width = width - 1 if width >= 2 else width
            inner_height = height - 1 if height >= 2 else height
        # A space before the text when the label still fits whole after it.
        pad = 1 if inner_width > cell_len(block.label) else 0

        def text_row(row: int) -> list[Segment]:
            if row >= len(lines) or inner_width - pad <= 0:
                return [Segment(" " * inner_width, fill)]
            text, style = lines[row]
            # Labels are symbols: a cropped "NVD" reads better than "NV…". Details are
            # figures: whole, or left out.
            if row == 0:
                shown = _crop(text, inner_width - pad, ellipsis=False)
            else:
                shown = _whole_parts(text, inner_width - pad)
            rest = inner_width - pad - cell_len(shown)
            return [Segment(" " * pad, fill), Segment(shown, style), Segment(" " * rest, fill)]

        rows: list[list[Segment]] = []
        if bordered:
            cursor_class = "treemap--cursor" if focused else "treemap--cursor-blurred"
            edge = fill + self.get_component_rich_style(cursor_class, partial=True)
            rows.append([Segment("┌" + "─" * inner_width + "┐", edge)])
            for row in range(inner_height):
                rows.append([Segment("│", edge), *text_row(row), Segment("│", edge)])
            rows.append([Segment("└" + "─" * inner_width + "┘", edge)])
            return rows

        separator = self._separator_style(fill)
        for row in range(height):
            if row >= inner_height:
                rows.append([Segment(" " * width, separator)])
            elif inner_width < width:
                rows.append([*text_row(row), Segment(" ", separator)])
            else:
                rows.append(text_row(row))
        return rows

    def on_resize(self, event: events.Resize) -> None:
        # The caches are keyed on size, so the next paint lays out afresh; just ask for it.
        self.refresh()
