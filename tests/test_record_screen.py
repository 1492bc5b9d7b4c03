"""The record screen (R): every kind's figures, the highlighted kind's horizons and histogram,
readable at 80x24; Escape closes it. Drawn from a database the outcome job filled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_record_cli import fill
from test_tui import make_app, open_screen, ready, wait_for
from textual.app import App
from textual.widgets import DataTable, Static

from momoscan.signals import Record
from momoscan.store import Store
from momoscan.tui.screens.main import MainScreen
from momoscan.tui.screens.record import RecordScreen, read_record


def _records(tmp_path: Path) -> tuple[dict[str, Record], bool]:
    path = tmp_path / "filled.db"
    fill(path)
    with Store(path) as store:
        return read_record(store, 5.0)


class RecordApp(App[None]):
    def __init__(self, found: dict[str, Record], simulated: bool) -> None:
        super().__init__()
        self.found, self.simulated = found, simulated

    def on_mount(self) -> None:
        self.push_screen(
            RecordScreen(self.found, move_pct=5.0, min_sample=10, simulated=self.simulated)
        )


@pytest.mark.anyio
async def test_the_screen_lists_each_kind_and_details_the_highlighted_one(tmp_path: Path) -> None:
    found, simulated = _records(tmp_path)
    app = RecordApp(found, simulated)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        table = screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows[0][:5] == ["TOP", "60", "20/60", "+2.5%", "-6.0%"]
        assert rows[1][:3] == ["HOD", "1", "0/1"]
        title = str(screen.query_one("#record-title", Static).render())
        assert "SIMULATED" in title and "≥5%" in title
        detail = str(screen.query_one("#record-detail", Static).render())
        assert "badge: TOP · 20/60 ≥5% by close" in detail
        assert "┤" in detail  # the histogram
        await pilot.press("down")
        await pilot.pause()
        detail = str(screen.query_one("#record-detail", Static).render())
        assert "no badge until 10 are measured" in detail and "┤" not in detail


def test_snapshot_80x24(snap_compare: Any, tmp_path: Path) -> None:
    found, simulated = _records(tmp_path)
    assert snap_compare(RecordApp(found, simulated), terminal_size=(80, 24))


@pytest.mark.anyio
async def test_R_opens_it_from_the_main_screen_and_escape_closes_it(tmp_path: Path) -> None:
    fill(tmp_path / "demo.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        screen = await open_screen(pilot, app, "R", RecordScreen)
        # (the demo's own signals, its simulated past's among them, are listed too)
        assert {"movers", "rule:new_high"} <= set(screen.kinds)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
