"""The squarified treemap layout and the Treemap widget."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.strip import Strip

from momoscan.tui.treemap_layout import Cell, squarify
from momoscan.tui.widgets.treemap import Block, Treemap

SIZES = [(80, 20), (37, 11), (120, 40)]
EPS = 1e-9


def random_values(rng: random.Random) -> list[float]:
    """A mix of what the scanner sees: a few whales, a long tail, exact zeros, ties."""
    count = rng.randint(1, 60)
    values: list[float] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.1:
            values.append(0.0)
        elif kind < 0.2:
            values.append(1.0)  # ties
        elif kind < 0.5:
            values.append(rng.random() ** 6 * 1000)  # heavy tail, many tiny values
        else:
            values.append(rng.expovariate(0.1))
    return values


def coverage(cells: Sequence[Cell | None], width: int, height: int) -> list[list[int]]:
    """How many cells cover each grid position."""
    grid = [[0] * width for _ in range(height)]
    for cell in cells:
        if cell is None:
            continue
        for y in range(cell.y, cell.y + cell.height):
            for x in range(cell.x, cell.x + cell.width):
                grid[y][x] += 1
    return grid


def assert_tiles(cells: Sequence[Cell | None], width: int, height: int) -> None:
    for cell in cells:
        if cell is not None:
            assert cell.width > 0 and cell.height > 0, cell
            assert cell.x >= 0 and cell.y >= 0, cell
            assert cell.x + cell.width <= width and cell.y + cell.height <= height, cell
    grid = coverage(cells, width, height)
    assert all(count == 1 for row in grid for count in row), "gap or overlap"


# Layout


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seed", range(40))
def test_random_values_tile_the_grid_exactly(size: tuple[int, int], seed: int) -> None:
    width, height = size
    values = random_values(random.Random(seed * 1000 + width))
    cells = squarify(values, width, height)
    assert len(cells) == len(values)
    if sum(values) > 0:
        assert_tiles(cells, width, height)
    else:
        assert cells == [None] * len(values)


@pytest.mark.parametrize("size", [*SIZES, (1, 1), (3, 50), (200, 3)])
@pytest.mark.parametrize("seed", range(40))
def test_areas_are_proportional_within_rounding(size: tuple[int, int], seed: int) -> None:
    """Each edge is rounded by at most half a cell, so a block's float width w and height h
    are each within one cell of the drawn W and H, and |W*H - w*h| <= H*|W-w| + w*|H-h|
    <= H + W + 1. A value left out rounded to zero width (w <= 1, h <= height) or zero
    height, so its exact area was at most max(width, height)."""
    width, height = size
    values = random_values(random.Random(seed))
    cells = squarify(values, width, height)
    total = sum(values)
    for value, cell in zip(values, cells, strict=True):
        if value == 0:
            assert cell is None
            continue
        exact = value / total * width * height
        if cell is None:
            assert exact <= max(width, height) + EPS
        else:
            assert abs(cell.area - exact) <= cell.width + cell.height + 1 + EPS


def test_a_35_percent_underlying_gets_35_percent_of_the_area() -> None:
    values = [35.0, 25.0, 20.0, 12.0, 8.0]
    cells = squarify(values, 80, 20)
    nio = cells[0]
    assert nio is not None
    assert abs(nio.area - 0.35 * 1600) <= nio.width + nio.height + 1
    # And in practice it is much closer than the worst case.
    assert abs(nio.area / 1600 - 0.35) < 0.01
    assert_tiles(cells, 80, 20)


def test_zeros_get_none_and_the_rest_still_tile() -> None:
    cells = squarify([0.0, 5.0, 0.0, 3.0, 0.0], 40, 10)
    assert cells[0] is None and cells[2] is None and cells[4] is None
    assert_tiles(cells, 40, 10)


def test_values_too_small_for_a_cell_get_none_and_give_their_area_away() -> None:
    cells = squarify([1000.0, 1e-9, 1e-6], 30, 10)
    assert cells == [Cell(0, 0, 30, 10), None, None]


def test_output_follows_input_order() -> None:
    values = [3.0, 17.0, 1.0, 8.0, 40.0, 5.0, 12.0]
    reference = squarify(values, 80, 20)
    order = list(range(len(values)))
    random.Random(7).shuffle(order)
    shuffled = squarify([values[i] for i in order], 80, 20)
    assert shuffled == [reference[i] for i in order]
    # The largest value has the largest block.
    areas = [cell.area if cell else 0 for cell in reference]
    assert areas.index(max(areas)) == values.index(max(values))


def test_equal_values_are_not_thin() -> None:
    cells = squarify([1.0] * 10, 80, 20)
    assert_tiles(cells, 80, 20)
    for cell in cells:
        assert cell is not None
        assert cell.width >= 3 and cell.height >= 2, cell
        # Square-ish on screen: a row is about two columns tall.
        visual = cell.width / (cell.height * 2)
        assert 0.5 <= visual <= 2.0, cell


def test_aspect_decides_what_square_means() -> None:
    # 20x20 cells look twice as tall as wide, so two halves are stacked...
    assert squarify([1.0, 1.0], 20, 20) == [Cell(0, 0, 20, 10), Cell(0, 10, 20, 10)]
    # ...but with cells half as tall as wide they sit side by side.
    assert squarify([1.0, 1.0], 20, 20, aspect=0.5) == [Cell(0, 0, 10, 20), Cell(10, 0, 10, 20)]


def test_degenerate_inputs() -> None:
    assert squarify([], 80, 20) == []
    assert squarify([1.0, 2.0], 0, 20) == [None, None]
    assert squarify([1.0, 2.0], 80, 0) == [None, None]
    assert squarify([0.0, 0.0], 80, 20) == [None, None]
    assert squarify([5.0], 80, 20) == [Cell(0, 0, 80, 20)]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_invalid_values_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError):
        squarify([1.0, bad], 10, 10)


def test_invalid_aspect_is_rejected() -> None:
    with pytest.raises(ValueError):
        squarify([1.0], 10, 10, aspect=0.0)


# Widget


def blocks(*shares: tuple[str, float]) -> list[Block]:
    return [
        Block(key=key, label=key, share=share, detail=f"{share:.1f}%", style="on dark_green")
        for key, share in shares
    ]


# 80x24: A fills the left, B the middle, C is top right above D.
FOUR = blocks(("AAA", 40.0), ("BBB", 30.0), ("CCC", 20.0), ("DDD", 10.0))


class TreemapApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []
        self.highlighted: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield Treemap()

    def on_treemap_selected(self, message: Treemap.Selected) -> None:
        assert message.control is message.treemap
        self.selected.append(message.key)

    def on_treemap_highlighted(self, message: Treemap.Highlighted) -> None:
        self.highlighted.append(message.key)


def screen_text(treemap: Treemap) -> list[str]:
    return [treemap.render_line(y).text for y in range(treemap.size.height)]


def segment_at(strip: Strip, x: int) -> Segment:
    position = 0
    for segment in strip:
        position += segment.cell_length
        if position > x:
            return segment
    raise IndexError(x)


def brightness(style: Style | None) -> int:
    assert style is not None and style.bgcolor is not None
    return sum(style.bgcolor.get_truecolor())


@pytest.mark.anyio
async def test_labels_and_details_are_drawn() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        await pilot.pause()
        assert treemap.size == (80, 24)
        text = "\n".join(screen_text(treemap))
        for block in FOUR:
            assert block.label in text
            assert block.detail in text
        assert all(treemap.render_line(y).cell_length == 80 for y in range(24))
        assert treemap.selected_key == "AAA"
        assert app.highlighted == ["AAA"]


@pytest.mark.anyio
async def test_blocks_are_filled_and_separated() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        await pilot.pause()
        b = treemap.cells()[1]  # not selected, so drawn with separators
        assert b is not None
        row = treemap.render_line(b.y + 3)
        inside = segment_at(row, b.x + 2).style
        right_edge = segment_at(row, b.x + b.width - 1).style
        bottom_edge = segment_at(treemap.render_line(b.y + b.height - 1), b.x + 2).style
        assert inside is not None and inside.bgcolor == Color.parse("dark_green")
        assert brightness(right_edge) < brightness(inside)
        assert brightness(bottom_edge) < brightness(inside)


@pytest.mark.anyio
async def test_flag_is_drawn_reversed_on_its_own_line() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(
            [
                Block("AAA", "AAA", 60.0, "60%"),
                Block("NIO", "NIO", 40.0, "40% · 1.2M", "on dark_red", "NEW"),
            ]
        )
        await pilot.pause()
        nio = treemap.cells()[1]
        assert nio is not None
        lines = screen_text(treemap)
        assert lines[nio.y][nio.x :].lstrip().startswith("NIO")
        assert lines[nio.y + 1][nio.x :].lstrip().startswith("40% · 1.2M")
        assert lines[nio.y + 2][nio.x :].lstrip().startswith("NEW")
        column = nio.x + lines[nio.y + 2][nio.x :].index("NEW")
        flag_style = segment_at(treemap.render_line(nio.y + 2), column).style
        assert flag_style is not None and flag_style.reverse


@pytest.mark.anyio
async def test_arrow_keys_move_to_the_neighbour_in_that_direction() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        treemap.focus()
        await pilot.pause()
        a, b, c, d = treemap.cells()
        assert a and b and c and d
        assert a.x < b.x < c.x == d.x and c.y < d.y  # the layout the moves below assume

        steps = [
            ("left", "AAA"),  # nothing further left: stay
            ("up", "AAA"),
            ("right", "BBB"),
            ("right", "CCC"),  # beside B, and nearer its centre than D
            ("down", "DDD"),
            ("up", "CCC"),
            ("down", "DDD"),
            ("left", "BBB"),
            ("left", "AAA"),
        ]
        for key, expected in steps:
            await pilot.press(key)
            assert treemap.selected_key == expected, key
        assert app.highlighted == ["AAA", "BBB", "CCC", "DDD", "CCC", "DDD", "BBB", "AAA"]
        assert app.selected == []


@pytest.mark.anyio
async def test_every_arrow_move_goes_the_way_it_points() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.focus()
        directions = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
        for seed in range(5):
            rng = random.Random(seed)
            treemap.set_blocks(blocks(*[(f"K{i}", rng.expovariate(1.0)) for i in range(15)]))
            await pilot.pause()
            cells = dict(zip([b.key for b in treemap.blocks], treemap.cells(), strict=True))
            moved = 0
            for key, cell in cells.items():
                if cell is None:
                    continue
                for name, (dx, dy) in directions.items():
                    treemap.selected_key = key
                    treemap.action_cursor(name)  # the key path is covered above; this is fast
                    target = cells[treemap.selected_key or ""]
                    assert target is not None
                    if treemap.selected_key == key:
                        continue
                    moved += 1
                    # Compare doubled centres to stay in integers.
                    along = (2 * target.x + target.width - 2 * cell.x - cell.width) * dx + (
                        2 * target.y + target.height - 2 * cell.y - cell.height
                    ) * dy
                    assert along > 0, (key, name, treemap.selected_key)
            assert moved > 0


@pytest.mark.anyio
async def test_selected_block_has_a_border_that_dims_without_focus() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        treemap.selected_key = "BBB"
        treemap.focus()
        await pilot.pause()
        b = treemap.cells()[1]
        assert b is not None
        top = treemap.render_line(b.y)
        assert top.text[b.x : b.x + b.width] == "┌" + "─" * (b.width - 2) + "┐"
        focused = segment_at(top, b.x).style
        treemap.blur()
        await pilot.pause()
        top = treemap.render_line(b.y)
        assert top.text[b.x] == "┌"
        blurred = segment_at(top, b.x).style
        assert focused is not None and blurred is not None
        assert focused != blurred and blurred.dim


@pytest.mark.anyio
async def test_enter_posts_selected_for_the_selected_block() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        treemap.focus()
        await pilot.press("right", "enter")
        await pilot.pause()
        assert app.selected == ["BBB"]


@pytest.mark.anyio
async def test_click_selects_the_block_under_the_pointer() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        await pilot.pause()
        cells = squarify([block.share for block in FOUR], 80, 24)
        for block, cell in zip(FOUR[::-1], cells[::-1], strict=True):
            assert cell is not None
            await pilot.click(Treemap, offset=(cell.x + cell.width // 2, cell.y + cell.height // 2))
            await pilot.pause()
            assert app.selected[-1] == block.key
            assert treemap.selected_key == block.key
        assert app.selected == ["DDD", "CCC", "BBB", "AAA"]


@pytest.mark.anyio
async def test_set_blocks_keeps_the_selection_when_it_can() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(FOUR)
        treemap.selected_key = "CCC"
        treemap.set_blocks(blocks(("DDD", 50.0), ("CCC", 30.0), ("EEE", 20.0)))
        assert treemap.selected_key == "CCC"
        treemap.set_blocks(blocks(("EEE", 60.0), ("FFF", 40.0)))
        assert treemap.selected_key == "EEE"
        treemap.set_blocks([])
        assert treemap.selected_key is None
        await pilot.pause()
        assert app.highlighted == ["AAA", "CCC", "EEE", None]
        with pytest.raises(ValueError):
            treemap.selected_key = "NOPE"


@pytest.mark.anyio
async def test_markup_in_labels_is_shown_literally() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        treemap.set_blocks(
            [
                Block("FOO", "Foo [/x] Corp", 70.0, "[link=https://example.com]X[/link]"),
                Block("BAR", "[bold red]BAR", 30.0, "[/]\x1b[31m1.0K", "not a [style"),
            ]
        )
        await pilot.pause()
        text = "\n".join(screen_text(treemap))
        assert "Foo [/x] Corp" in text
        assert "[link=https://example.com]X[/link]" in text
        assert "[bold red]BAR" in text
        assert "[/] [31m1.0K" in text  # the escape character is blanked, not sent
        assert "\x1b" not in text
        app.export_screenshot()  # the full compositor path must not choke either


@pytest.mark.anyio
async def test_resizing_keeps_the_tiling() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        many = blocks(*[(f"S{i:02d}", 100.0 / (i + 1)) for i in range(25)])
        treemap.set_blocks(many)
        await pilot.pause()
        for width, height in [(120, 40), (37, 11), (80, 24)]:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            assert treemap.size == (width, height)
            assert_tiles(treemap.cells(), width, height)
            lines = [treemap.render_line(y) for y in range(height)]
            assert all(line.cell_length == width for line in lines)
            assert "S00" in "\n".join(line.text for line in lines)


@pytest.mark.anyio
async def test_empty_treemap_shows_a_centred_message() -> None:
    app = TreemapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        treemap = app.query_one(Treemap)
        await pilot.pause()
        lines = screen_text(treemap)
        message = "No options volume yet."
        assert lines[12].strip() == message
        assert lines[12].index(message) == (80 - len(message)) // 2
        assert sum(bool(line.strip()) for line in lines) == 1

        treemap.empty_message = "Market closed."
        treemap.set_blocks(blocks(("ZERO", 0.0)))  # nothing with any area is still empty
        await pilot.pause()
        assert screen_text(treemap)[12].strip() == "Market closed."
        await pilot.press("enter", "right")
        assert app.selected == []  # the selection cannot be seen, so there is nothing to open


def test_bindings_have_descriptions() -> None:
    bindings = [binding for binding in Treemap.BINDINGS if isinstance(binding, Binding)]
    assert len(bindings) == len(Treemap.BINDINGS)
    assert all(binding.description for binding in bindings)
    enter = next(binding for binding in bindings if binding.key == "enter")
    assert enter.description == "Contracts"
