"""Snapshots of the main screen, the drill-down, the history and the chart screen at 80x24,
120x40 and 200x60 (and the treemap and the whole-market view at 120x40): simulated market with
a fixed seed, market clock and wall clock, so every run draws the same screen.

Update them after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/__snapshots__/ before committing.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

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
SIZES = [(80, 24), (120, 40), (200, 60)]
IDS = ["80x24", "120x40", "200x60"]


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


async def until(pilot: Any, condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await pilot.pause(0.05)


async def settle(pilot: Any) -> None:
    app = pilot.app
    await until(
        pilot,
        lambda: (
            app.refreshes
            and app.snapshot is not None
            and app.snapshot.volume
            and app.history_seeded
        ),
        "the first refresh did not finish",
    )
    await until(pilot, lambda: not app._reading, "the last read did not finish")
    await pilot.pause(0.2)
    # Rows stream in batch by batch, in whatever order the threads finish, and the cursor
    # follows its row: put every cursor on the first row so that the picture is the same.
    from momoscan.tui.widgets.fast_table import FastTable

    for table in app.query(FastTable):
        table.action_cursor_to(0)
    app.query_one("#movers").focus()
    app.clear_notifications()
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_main_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=settle)


def test_main_screen_treemap(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause(0.1)

    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_main_screen_whole_market(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("w")
        await pilot.pause(0.1)

    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_drill_down(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.query_one(ShareBars).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ContractsScreen), "no drill-down")
        await pilot.pause(0.2)

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_history(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), "no history")
        screen = pilot.app.screen
        trend = screen.query_one("#history-trend")
        if trend.display:
            await until(pilot, lambda: screen.trend_drawn is not None, "no trend drawn")
        await pilot.pause(0.2)

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_chart_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Any) -> None:
        from momoscan.tui.screens.chart import ChartScreen

        await settle(pilot)
        # The third by volume: a small move, so its previous close crosses the chart.
        pilot.app.query_one("#volume").focus()
        await pilot.press("down", "down", "c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChartScreen), "no chart")
        await pilot.pause(0.2)

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=run_before)


# -- the status bar in the states a trader must not miss --------------------------------------


def _status_state(kind: str) -> Any:
    from momoscan.models import Session
    from momoscan.tui.widgets.status import StatusState

    state = StatusState(
        demo=kind != "failing_source",
        market_time=datetime(2026, 12, 7, 10, 2, 22, tzinfo=mh.ET),
        session=Session.OPEN,
        universe="tiers small, mid, large",
        tiers=("small", "mid", "large"),
        min_price=1.0,
        credits_used=547,
        plan_limit=610,
        coverage="stalest 3m (bound 5m) · favouring big movers · movers probe",
        oldest_age=190,
    )
    if kind == "stalled_stream":
        state.stream = "stream stalled · polling 2,952"
    else:
        state.stream = "stream: 48 live · polling 2,904"
        state.error = (
            "OCC: could not connect (21 days, 2026-11-04 .. 2026-12-04); "
            "Cboe (NVDA chain): HTTP 503, retrying next cycle"
        )
    return state


def _status_app(kind: str) -> Any:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from momoscan.tui.widgets.status import StatusBar

    class StatusOnly(App[None]):
        CSS_PATH = str(Path(MomoscanApp.CSS_PATH).resolve())  # type: ignore[arg-type]

        def compose(self) -> ComposeResult:
            yield StatusBar(id="status")
            yield Static("(the tables)")

        def on_mount(self) -> None:
            bar = self.query_one(StatusBar)
            bar.state = _status_state(kind)
            self.call_after_refresh(bar.show, WALL)

    return StatusOnly()


@pytest.mark.parametrize("kind", ["stalled_stream", "failing_source"])
@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_status_bar(snap_compare, size: tuple[int, int], kind: str) -> None:  # type: ignore[no-untyped-def]
    """What must not be missed is on the bar at every size: DEMO or LIVE, the clock, then a
    stalled stream or a failing source (coloured), then credits and the filter as room
    allows."""

    async def run_before(pilot: Any) -> None:
        await pilot.pause(0.1)
        from momoscan.tui.widgets.status import StatusBar

        bar = pilot.app.query_one(StatusBar)
        bar.show(WALL)
        text = str(bar.render())
        assert "10:02:22" in text
        if kind == "stalled_stream":
            assert "stream stalled" in text, text
        else:  # the first cause, or at its shortest which sources fail
            assert "OCC: could not" in text or "failing: OCC, Cboe" in text, text
        assert "547/610" in text  # the credits, short at 80 columns

    assert snap_compare(_status_app(kind), terminal_size=size, run_before=run_before)
