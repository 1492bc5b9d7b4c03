"""Snapshots of the main screen, the drill-down and the history screen: simulated market with
a fixed seed, market clock and wall clock, so every run draws the same screen.

Update them after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/__snapshots__/ before committing.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from momoscan import market_hours as mh
from momoscan.config import Settings
from momoscan.runtime import RunOptions
from momoscan.tui.app import MomoscanApp
from momoscan.tui.screens.contracts import ContractsScreen
from momoscan.tui.screens.history import HistoryScreen
from momoscan.tui.widgets.options_panel import ShareBars

START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)
WALL = datetime(2026, 11, 20, 16, 31, 5).timestamp()  # wall clock pinned (UTC below)
SIZE = (150, 45)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def make_app(tmp_path: Path) -> MomoscanApp:
    settings = Settings()
    settings.scan.refresh_interval = 3600
    options = RunOptions(
        db=str(tmp_path / "demo.db"),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        wall=lambda: WALL,
    )
    return MomoscanApp(settings, options)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    deadline = time.monotonic() + 60
    while not (
        app.refreshes and app.snapshot is not None and app.snapshot.movers and not app._reading
    ):
        assert time.monotonic() < deadline, "the first refresh did not finish"
        await pilot.pause(0.05)
    await pilot.pause(0.2)
    # Rows stream in batch by batch, in whatever order the threads finish, and the cursor
    # follows its row: put every cursor on the first row so that the picture is the same.
    from momoscan.tui.widgets.fast_table import FastTable

    for table in app.query(FastTable):
        table.action_cursor_to(0)
    app.query_one("#movers").focus()
    app.clear_notifications()
    await pilot.pause(0.1)


def test_main_screen(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=settle)


def test_main_screen_treemap(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause(0.1)

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_drill_down(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        pilot.app.query_one(ShareBars).focus()
        await pilot.press("enter")
        deadline = time.monotonic() + 30
        while not isinstance(pilot.app.screen, ContractsScreen):
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_history(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("h")
        deadline = time.monotonic() + 30
        while not isinstance(pilot.app.screen, HistoryScreen):
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)
