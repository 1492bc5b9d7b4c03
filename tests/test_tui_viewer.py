"""The terminal UI as a viewer: another process collects for its database (here a collector
in the same process, through the same `attach`), the app shows what it stores, its keys reach
it, and the app takes over when it stops."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from test_tui import SIZE, make_app, messages, wait_for

from momoscan.attach import attach
from momoscan.collector import Collector
from momoscan.config import Settings
from momoscan.store import Store
from momoscan.tui.widgets.status import StatusBar
from momoscan.viewer import Viewer


@pytest.mark.anyio
async def test_a_second_window_views_asks_and_takes_over(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    settings = Settings()
    first_cycle = anyio.Event()
    stop = anyio.Event()
    asked: list[bool] = []

    async def collect(collector: Collector) -> str:
        await collector.refresh(full=True)
        first_cycle.set()
        while not stop.is_set():
            with anyio.move_on_after(0.05):
                asked.append(await collector.wait(3600))
        return "done"

    async def never(_viewer: Viewer) -> str:
        raise AssertionError("the first must collect")

    async with anyio.create_task_group() as tg:

        async def run_collector() -> None:
            await attach(
                settings, app.options, command="momoscan collect", collect=collect, view=never
            )

        tg.start_soon(run_collector)
        await first_cycle.wait()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(
                pilot,
                lambda: (
                    app.viewer is not None
                    and app.snapshot is not None
                    and len(app.snapshot.volume) >= 10
                ),
            )
            await pilot.pause(0.3)
            status = str(app.query_one(StatusBar).render())
            assert "VIEWER" in status and "momoscan collect (pid" in status
            assert "credits" in status  # the collector's, as it published them
            assert app.runtime is None and app.collector is None
            assert any("collects for this database" in m for m in messages(app))
            # r reaches the collector.
            await pilot.press("r")
            await wait_for(pilot, lambda: any(asked))
            # A watchlist edit too, and a refused one says why.
            await app.edit_watchlist("msft", add=True)
            await app.edit_watchlist("ZZZQX", add=True)
            await wait_for(pilot, lambda: any("Added MSFT" in m for m in messages(app)))
            await wait_for(
                pilot, lambda: any("not a listing momoscan knows" in m for m in messages(app))
            )
            # The collector stops: this window takes over.
            stop.set()
            await wait_for(pilot, lambda: app.collector is not None and app.refreshes >= 1)
            await pilot.pause(0.3)
            status = str(app.query_one(StatusBar).render())
            assert "VIEWER" not in status
            assert any("collects now" in m for m in messages(app))
    with Store(tmp_path / "demo.db") as store:
        assert "MSFT" in store.watchlist()
