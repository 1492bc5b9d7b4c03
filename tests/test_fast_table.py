"""FastTable's cells, drawn once for each content: a row that comes back on screen (the ranking
moves it out and in again) draws none of its cells again, and cells alike in text but not in
style or width are never taken for one another."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from momoscan.tui.widgets import fast_table
from momoscan.tui.widgets.fast_table import Column, FastTable

COLUMNS = [Column("symbol", "Symbol", 6), Column("price", "Price", 8, "right")]


class OneTable(App[None]):
    CSS = "FastTable { height: 8; }"

    def compose(self) -> ComposeResult:
        yield FastTable(COLUMNS, zebra=False)


def row(symbol: str, price: str, style: str = "") -> tuple[str, list[Text]]:
    return symbol, [Text(symbol, style="bold"), Text(price, style=style)]


def lines(table: FastTable) -> list[list[tuple[str, str]]]:
    """Each drawn line as (text, style) segments."""
    return [
        [(s.text, str(s.style)) for s in table.render_line(y)] for y in range(table.row_count + 1)
    ]


@pytest.mark.anyio
async def test_a_row_back_on_screen_draws_none_of_its_cells_again() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.set_rows([row("AAPL", "231.40"), row("MSFT", "415.02")])
        await pilot.pause()
        first = lines(table)
        table.set_rows([row("NVDA", "140.11")])  # AAPL and MSFT leave the table...
        await pilot.pause()
        lines(table)
        drawn = fast_table._cell_by_content.cache_info().misses
        table.set_rows([row("AAPL", "231.40"), row("MSFT", "415.02")])  # ...and come back
        await pilot.pause()
        assert lines(table) == first
        assert fast_table._cell_by_content.cache_info().misses == drawn

        # A new price is drawn: one cell.
        table.set_rows([row("AAPL", "231.45"), row("MSFT", "415.02")])
        await pilot.pause()
        again = lines(table)
        assert fast_table._cell_by_content.cache_info().misses == drawn + 1
        assert "231.45" in "".join(text for text, _ in again[1])


@pytest.mark.anyio
async def test_cells_alike_in_text_keep_their_own_style_and_width() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.set_rows([row("AAPL", "1.00", "green"), row("MSFT", "1.00", "red")])
        await pilot.pause()
        green, red = lines(table)[1:]
        assert any("green" in style for text, style in green if "1.00" in text)
        assert any("red" in style for text, style in red if "1.00" in text)
        # Only a span differs: still two cells.
        spanned = Text("1.00")
        spanned.stylize("red", 0, 1)
        table.set_rows([("AAPL", [Text("AAPL"), Text("1.00")]), ("MSFT", [Text("MSFT"), spanned])])
        await pilot.pause()
        plain, partly = lines(table)[1:]
        assert not any("red" in style for _, style in plain)
        assert any("red" in style for _, style in partly)
        # Wider: the same price, padded to the new width.
        table.set_rows([row("AAPL", "1.00"), row("MSFTWIDE", "1.00")])
        width = table.column_width("symbol")
        await pilot.pause()
        assert width == len("MSFTWIDE")
        assert all(len("".join(text for text, _ in line)) >= width for line in lines(table))
