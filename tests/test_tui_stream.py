"""The app streams its hot set from the start: the status bar says how many names are live,
streamed trades reach the rows on show before the next read, a stream gone silent is told in
the bar, and before the open the main table is the gappers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from momoscan import market_hours as mh
from momoscan.config import Settings
from momoscan.engine.stream import Tick
from momoscan.runtime import RunOptions
from momoscan.simulated.transport import SimulatedMarketTransport
from momoscan.tui.app import MomoscanApp
from momoscan.tui.screens.main import GAPPERS_TITLE, MainScreen
from momoscan.tui.widgets.scan_table import ScanTable
from momoscan.tui.widgets.status import StatusBar, StatusState, render_status


def make_app(tmp_path: Path, start: datetime, *, stream: bool) -> MomoscanApp:
    settings = Settings()
    settings.scan.refresh_interval = 3600
    options = RunOptions(
        db=str(tmp_path / "demo.db"),
        demo_start=start,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        stream=stream,
    )
    return MomoscanApp(settings, options)


async def wait_for(pilot: Any, condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


@pytest.mark.anyio
async def test_the_app_streams_its_hot_set_and_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path, datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET), stream=True)
    async with app.run_test(size=(150, 45)) as pilot:
        status = app.main.query_one(StatusBar)

        def streaming() -> int:
            rt = app.runtime
            return rt.engine.stream_step.status().live if rt is not None else 0

        # (The bar reads "stream: 0 live" while the subscriptions are still being confirmed:
        # wait for the count, then for the bar to say it.)
        await wait_for(pilot, lambda: app.refreshes >= 1 and streaming() >= 20)
        await wait_for(pilot, lambda: re.search(r"stream: [1-9][0-9]* live", status.state.stream))
        movers = app.main.query_one("#movers", ScanTable)
        symbol = movers.rows[0].symbol
        before = movers.rows[0]
        app.main.apply_ticks(
            [Tick(symbol, before.price * 1.01, 50.0, before.volume, int(time.time()))],
            app.market_epoch(),
        )
        after = next(r for r in movers.rows if r.symbol == symbol)
        assert after.price == pytest.approx(before.price * 1.01)
        assert after.change_pct == 50.0 and after.source == "stream"
        assert f"{after.price:,.2f}" in "".join(c.plain for c in movers.row(symbol))


@pytest.mark.anyio
async def test_before_the_open_the_main_table_is_the_gappers(tmp_path: Path) -> None:
    premarket = datetime(2026, 11, 20, 8, 30, tzinfo=mh.ET)
    app = make_app(tmp_path, premarket, stream=False)
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_for(
            pilot,
            lambda: app.refreshes >= 1 and app.snapshot is not None and app.snapshot.gappers,
        )
        await pilot.pause(0.2)
        main = app.screen
        assert isinstance(main, MainScreen)
        movers = main.query_one("#movers", ScanTable)
        assert GAPPERS_TITLE in str(movers.border_title)
        gaps = app.snapshot.gappers  # type: ignore[union-attr]
        assert [r.symbol for r in movers.rows] == [g.symbol for g in gaps][: len(movers.rows)]
        # m still switches to gainers, and back round to the gappers.
        await pilot.press("m")
        assert GAPPERS_TITLE not in str(movers.border_title)


@pytest.mark.anyio
async def test_a_silent_stream_is_told_in_the_status_bar(tmp_path: Path) -> None:
    app = make_app(tmp_path, datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET), stream=True)
    async with app.run_test(size=(150, 45)) as pilot:
        status = app.main.query_one(StatusBar)

        def streaming() -> int:
            rt = app.runtime
            return rt.engine.stream_step.status().live if rt is not None else 0

        await wait_for(pilot, lambda: app.refreshes >= 1 and streaming() >= 20)
        rt = app.runtime
        assert rt is not None and rt.engine.stream_step.stream is not None
        assert isinstance(rt.transport, SimulatedMarketTransport) and rt.transport.streamer
        # Ticks come every second: 2.5 s of silence is a stall (from the next message on).
        stream = rt.engine.stream_step.stream
        stream.stall_after = 2.5
        heard = stream.state.last_message_at
        await wait_for(pilot, lambda: stream.state.last_message_at != heard)
        rt.transport.streamer.stall_all()
        await wait_for(pilot, lambda: status.state.stream.startswith("stream stalled"))
        assert rt.engine.stream_step.live() == set()
        assert "stream stalled" in str(status.render())


def test_the_status_bar_colours_a_stalled_stream_and_refused_ticks() -> None:
    def style_of(stream: str) -> str:
        text = render_status(StatusState(stream=stream), 0.0)
        start = text.plain.index(stream)
        return " ".join(str(s.style) for s in text.spans if s.start <= start < s.end)

    assert "yellow" in style_of("stream stalled · polling 546")
    assert "yellow" in style_of("stream: 40 live · 3 other-listing ticks refused · polling 506")
    assert "yellow" not in style_of("stream: 40 live · polling 506")
