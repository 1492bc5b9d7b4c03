"""The terminal UI, driven as a user would with Textual's pilot, on the simulated market."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.runtime import RunOptions
from momoscan.tui.app import MomoscanApp
from momoscan.tui.screens.contracts import ContractsScreen
from momoscan.tui.screens.dialogs import HelpScreen, JumpScreen, SymbolScreen
from momoscan.tui.screens.history import HistoryScreen
from momoscan.tui.widgets.fast_table import FastTable
from momoscan.tui.widgets.options_panel import OptionsPanel, ShareBars
from momoscan.tui.widgets.scan_table import ScanTable
from momoscan.tui.widgets.status import StatusBar
from momoscan.tui.widgets.treemap import Treemap

START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)
SIZE = (150, 45)


def make_app(tmp_path: Path, settings: Settings | None = None, **kwargs: object) -> MomoscanApp:
    settings = settings or Settings()
    settings.scan.refresh_interval = 3600  # one refresh unless a test asks for another
    options = RunOptions(
        db=str(tmp_path / "demo.db"),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
    )
    app = MomoscanApp(settings, options, **kwargs)  # type: ignore[arg-type]
    app.opened: list[str] = []  # type: ignore[misc]
    app.open_url = lambda url, new_tab=True: app.opened.append(url)  # type: ignore[method-assign,attr-defined]
    return app


async def wait_for(pilot: object, condition: object, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def ready(pilot: object, app: MomoscanApp, refreshes: int = 1) -> None:
    await wait_for(
        pilot,
        lambda: (
            app.refreshes >= refreshes
            and app.snapshot is not None
            and len(app.snapshot.movers) == 10
            and not app._reading
        ),
    )
    await pilot.pause(0.1)  # type: ignore[attr-defined]


def table_text(table: DataTable | FastTable) -> list[list[str]]:  # type: ignore[type-arg]
    if isinstance(table, FastTable):
        return [[cell.plain for cell in table.row(key)] for key in table.keys]
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.anyio
async def test_panels_fill_and_status_says_demo(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        movers = app.query_one("#movers", ScanTable)
        volume = app.query_one("#volume", ScanTable)
        assert movers.row_count == 10 and volume.row_count == 10
        changes = [float(row[4].rstrip("%")) for row in table_text(movers)]
        assert changes == sorted(changes, reverse=True)
        assert app.query_one(ShareBars).row_count >= 10
        status = app.query_one(StatusBar)
        text = str(status.render())
        assert "DEMO" in text and "simulated" in text
        assert "fresh" in text and "credits" in text and "OPEN" in text


@pytest.mark.anyio
async def test_chart_key_opens_tradingview_with_the_right_exchange(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        movers = app.query_one("#movers", ScanTable)
        movers.focus()
        await pilot.press("down")
        symbol = movers.selected_symbol
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        from momoscan.simulated.universe import real_stocks

        mic = next(s.mic for s in real_stocks() if s.symbol == symbol)
        prefix = {"XNYS": "NYSE", "XASE": "AMEX", "BATS": "CBOE"}.get(mic, "NASDAQ")
        assert app.opened == [f"https://www.tradingview.com/chart/?symbol={prefix}:{symbol}"]
        # The URL is also shown, for users on SSH.
        assert any(app.opened[0] in n.message for n in app._notifications)


@pytest.mark.anyio
async def test_click_on_a_symbol_opens_its_chart(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        volume = app.query_one("#volume", ScanTable)
        first = table_text(volume)[0][1]
        # Row 0 is under the header; the symbol column starts after "#" (2 wide + padding).
        await pilot.click("#volume", offset=(6, 1))
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{first}")


@pytest.mark.anyio
async def test_drill_down_into_contracts_and_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        bars = app.query_one(ShareBars)
        bars.focus()
        top = bars.selected_key
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContractsScreen))
        screen = app.screen
        assert isinstance(screen, ContractsScreen) and screen.underlying == top
        table = screen.query_one(DataTable)
        volumes = [int(row[4].replace(",", "")) for row in table_text(table)]
        assert volumes == sorted(volumes, reverse=True) and volumes[0] > 0
        assert [str(c.label) for c in table.ordered_columns][:10] == [
            "Expiry",
            "DTE",
            "Strike",
            "C/P",
            "Volume",
            "Open int.",
            "Vol/OI",
            "IV",
            "Last",
            "% of und.",
        ]
        # Re-sort by strike with a header click, then press s to cycle the sort.
        screen.sort_by("strike")
        await pilot.pause()
        strikes = [float(row[2].replace(",", "")) for row in table_text(table)]
        assert strikes == sorted(strikes)
        await pilot.press("escape")
        assert not isinstance(app.screen, ContractsScreen)
        assert app.query_one("#movers", ScanTable).row_count == 10


@pytest.mark.anyio
async def test_treemap_toggle_and_enter_on_a_block(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("t")
        panel = app.query_one(OptionsPanel)
        assert panel.showing_treemap
        treemap = app.query_one(Treemap)
        assert app.focused is treemap
        snap = app.snapshot
        assert snap is not None
        # Block areas are the shares.
        cells = treemap.cells()
        area = treemap.size.width * treemap.size.height
        biggest = snap.shares[0]
        assert cells[0] is not None
        assert abs(cells[0].area / area - biggest.share) < 0.05
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContractsScreen))
        assert app.screen.underlying == treemap.selected_key  # type: ignore[attr-defined]
        await pilot.press("escape")
        await pilot.press("t")
        assert not panel.showing_treemap


@pytest.mark.anyio
async def test_history_screen_shows_twenty_days(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        grid = app.screen.query_one("#history-grid", DataTable)
        assert grid.row_count == 20
        days = [row[0] for row in table_text(grid)]
        assert days == sorted(days, reverse=True)
        detail = app.screen.query_one("#history-day", DataTable)
        assert detail.row_count == 10
        rows = table_text(detail)
        flagged = [r for r in rows if r[7]]
        assert all(r[7].startswith("first time in the top 10") for r in flagged)
        await pilot.press("down")
        await pilot.pause()
        assert app.screen.query_one("#history-day-title").render()  # the day changed
        await pilot.press("escape")
        assert not isinstance(app.screen, HistoryScreen)


@pytest.mark.anyio
async def test_help_jump_tiers_refresh_and_quit(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        # Jump to a symbol in the volume table: the cursor lands on it.
        target = table_text(app.query_one("#volume", ScanTable))[3][1]
        await pilot.press("slash")
        assert isinstance(app.screen, JumpScreen)
        await pilot.press(*target.lower(), "enter")
        await pilot.pause()
        volume = app.query_one("#volume", ScanTable)
        assert app.focused is volume and volume.selected_symbol == target

        # Jump to a symbol outside the tables: its card.
        await pilot.press("slash", *"msft", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        await pilot.press("escape")

        # f cycles the cap-tier filter: all chosen tiers, then each alone.
        await pilot.press("f")
        assert app.current_tiers == ("small",)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None and all(r.cap_tier == "small" for r in app.snapshot.movers)
            ),
        )
        await pilot.press("f", "f", "f")
        assert app.current_tiers == ("small", "mid", "large")

        # r refreshes now.
        await pilot.press("r")
        await ready(pilot, app, refreshes=2)

        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


MARKUP_NAMES = ["Foo [/x] Corp", "Acme [bold]Holdings", "[link=https://example.com]X[/link]"]


@pytest.mark.anyio
async def test_markup_in_names_is_shown_literally(tmp_path: Path) -> None:
    listing = tmp_path / "mine.csv"
    symbols = [
        "PTON",
        "WRD",
        "CCJ",
        "ASAN",
        "LC",
        "LAES",
        "BYND",
        "JBLU",
        "ASPI",
        "RCKT",
        "AAOI",
        "POET",
    ]
    lines = ["symbol,name,cap_tier"]
    for i, symbol in enumerate(symbols):
        name = MARKUP_NAMES[i % 3]
        lines.append(f'{symbol},"{name}",small')
    listing.write_text("\n".join(lines) + "\n")
    settings = Settings()
    settings.universe.source = "file"
    settings.universe.path = str(listing)
    app = make_app(tmp_path, settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        names = {row[2] for row in table_text(app.query_one("#movers", ScanTable))}
        shown = {n.rstrip("…") for n in names}
        assert all(any(full.startswith(n) for full in MARKUP_NAMES) for n in shown)
        assert "Foo [/x] Corp" in names
        # The symbol card shows the full name, literally.
        await pilot.press("slash", *"aaoi", "enter")
        await pilot.pause(0.3)
        if isinstance(app.screen, SymbolScreen):
            assert app.screen.ticker.name in MARKUP_NAMES
            await pilot.press("escape")
        app.notify("[link=https://example.com]X[/link] Foo [/x]", markup=False)
        await pilot.pause()
        import html

        screenshot = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        # The Name column is 17 cells wide: the longer names end in an ellipsis.
        for literal in ("Foo [/x] Corp", "Acme [bold]Holdi", "[link=https://ex"):
            assert literal in screenshot


@pytest.mark.anyio
async def test_a_failed_refresh_keeps_the_data_marked_stale(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        rt = app.runtime
        assert rt is not None

        def reject(request: httpx.Request) -> httpx.Response:
            return httpx.Response(401, json={"code": 401, "message": "bad key", "status": "error"})

        rt.engine.quotes._http._transport = httpx.MockTransport(reject)
        rt.engine.plan_limit_known = False
        await pilot.press("r")
        await wait_for(pilot, lambda: app.query_one(StatusBar).state.stale)
        await ready(pilot, app, refreshes=2)
        state = app.query_one(StatusBar).state
        assert "TWELVEDATA_API_KEY" in state.error
        assert "STALE" in str(app.query_one(StatusBar).render())
        assert app.query_one("#movers", ScanTable).row_count == 10  # the last good data stays


@pytest.mark.anyio
async def test_alerts_when_a_symbol_enters_the_top_movers(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        first = {r.symbol for r in app.snapshot.movers}  # type: ignore[union-attr]
        clock = app.runtime.clock  # type: ignore[union-attr]
        assert isinstance(clock, FixedClock)
        clock.advance(4 * 3600)  # 15:30: later runners have run
        await pilot.press("r")
        await ready(pilot, app, refreshes=2)
        await pilot.pause(0.3)
        second = {r.symbol for r in app.snapshot.movers}  # type: ignore[union-attr]
        entered = second - first
        assert entered
        messages = [n.message for n in app._notifications if n.title == "Top movers"]
        for symbol in entered:
            assert any(m.startswith(f"{symbol} entered the top movers") for m in messages)
        table = app.query_one("#movers", ScanTable)
        styles = {table.row(k)[1].plain: str(table.row(k)[1].style) for k in table.keys}
        assert all("reverse" in styles[s] for s in entered)
