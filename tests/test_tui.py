"""The terminal UI, driven as a user would with Textual's pilot, on the simulated market.

Every binding of every screen is pressed here at least once, on the screen that declares it,
and the keys of one screen are shown to do nothing to another (issue 10, item 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import DataTable

from momoscan import format as fmt
from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.models import Ticker
from momoscan.queries import OTHERS
from momoscan.runtime import RunOptions
from momoscan.tui.app import MomoscanApp
from momoscan.tui.screens.alerts import AlertsScreen
from momoscan.tui.screens.contracts import ContractsScreen
from momoscan.tui.screens.dialogs import HelpScreen, JumpScreen, SymbolScreen
from momoscan.tui.screens.history import HistoryScreen
from momoscan.tui.screens.main import MainScreen
from momoscan.tui.widgets.contract_table import ContractTable
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


async def wait_for(pilot: Any, condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


async def ready(pilot: Any, app: MomoscanApp, refreshes: int = 1) -> None:
    await wait_for(
        pilot,
        lambda: (
            app.refreshes >= refreshes
            and app.snapshot is not None
            and len(app.snapshot.volume) >= 10
            and app.history_seeded
            and not app._reading
        ),
    )
    await pilot.pause(0.1)


def table_text(table: DataTable | FastTable) -> list[list[str]]:  # type: ignore[type-arg]
    if isinstance(table, FastTable):
        return [[cell.plain for cell in table.row(key)] for key in table.keys]
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def column(table: FastTable, key: str) -> list[str]:
    return [table.cell(k, key).plain for k in table.keys]


def messages(app: MomoscanApp) -> list[str]:
    return [n.message for n in app._notifications]


def pct(text: str) -> float:
    return float(text.rstrip("%"))


async def outside_symbol(app: MomoscanApp) -> str:
    """A universe symbol in neither table nor the options watch set: it opens a card."""
    from momoscan import queries

    assert app.reader is not None and app.snapshot is not None
    shown = {k for t in app.main.query(ScanTable) for k in t.keys}
    shown |= {s.underlying for s in app.snapshot.shares}
    universe = await app.reader.call(queries.universe_symbol_list)
    return next(s for s in universe if s not in shown and s.isalpha())


async def open_screen(pilot: Any, app: MomoscanApp, key: str, kind: type) -> Any:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, kind))
    await pilot.pause(0.1)
    return app.screen


# ---------------------------------------------------------------------------------------------
# The main screen


@pytest.mark.anyio
async def test_panels_fill_and_status_says_demo(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert isinstance(app.screen, MainScreen)
        movers = app.query_one("#movers", ScanTable)
        volume = app.query_one("#volume", ScanTable)
        rows = app.main.table_rows
        assert rows > 10  # 45 lines: more than the top 10
        assert movers.row_count == rows and volume.row_count == rows
        # Largest moves either way, by size: gainers and losers both appear.
        changes = [pct(c) for c in column(movers, "change")]
        assert [abs(c) for c in changes] == sorted((abs(c) for c in changes), reverse=True)
        assert min(changes) < 0 < max(changes)
        assert app.query_one(ShareBars).row_count >= 10
        text = str(app.query_one(StatusBar).render())
        assert "DEMO" in text and "simulated" in text
        assert "fresh" in text and "credits" in text and "OPEN" in text


@pytest.mark.anyio
async def test_what_arrives_after_the_screens_are_gone_touches_nothing(tmp_path: Path) -> None:
    """At exit Textual tears the screens down while a refresh's progress, streamed ticks, a
    read's result, alerts and the clock's tick can still arrive: each is dropped, none raises
    (issue 14: `NoMatches: 'StatusBar'` in on_refresh_progress, once in eight runs)."""
    from momoscan.engine.context import RefreshReport
    from momoscan.engine.stream import Tick
    from momoscan.models import AlertEvent, Progress
    from momoscan.tui.messages import RefreshFinished, RefreshProgress

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        snap = app.snapshot
        assert snap is not None and app.live
        symbol = snap.movers[0].symbol
    assert not app.live
    shown = len(app._notifications)
    app.on_refresh_progress(RefreshProgress(Progress("quotes", 1, 2)))
    app.on_refresh_finished(RefreshFinished(RefreshReport(0, status="failed", fatal="gone")))
    app.show_snapshot(snap)
    app._on_ticks([Tick(symbol, 1.0, 1.0, 1, 0)])
    app._tick()
    app.read_soon()
    event = AlertEvent("rule", "Runner", symbol, "moved", 0.0, START.date())
    app.show_alerts([event])
    assert len(app._notifications) == shown and app.rule_alerts == []


@pytest.mark.anyio
async def test_m_cycles_the_movers_between_largest_moves_gainers_and_losers(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        movers = app.query_one("#movers", ScanTable)
        assert "largest moves" in str(movers.border_title)
        await pilot.press("m")
        gainers = [pct(c) for c in column(movers, "change")]
        assert gainers == sorted(gainers, reverse=True) and all(c > 0 for c in gainers)
        assert "gainers" in str(movers.border_title)
        await pilot.press("m")
        losers = [pct(c) for c in column(movers, "change")]
        assert losers == sorted(losers) and all(c < 0 for c in losers)
        assert "losers" in str(movers.border_title)
        await pilot.press("m")
        assert "largest moves" in str(movers.border_title)
        # Flipping the list is not "entering" it: no alert.
        assert not [n for n in app._notifications if n.title == "Top movers"]


@pytest.mark.anyio
async def test_every_age_ticks_from_the_quote_time_and_agrees(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        clock = app.runtime.clock  # type: ignore[union-attr]
        assert isinstance(clock, FixedClock)
        movers = app.query_one("#movers", ScanTable)
        status = app.query_one(StatusBar)

        def shown() -> tuple[list[str], str]:
            return column(movers, "age"), str(status.render())

        clock.advance(7)
        await pilot.pause(1.3)  # one tick, no read of the store in between
        ages, bar = shown()
        now = clock.now().timestamp()
        expected = [fmt.age(r.age(now)) for r in movers.rows]
        assert ages == expected
        oldest = max(r.age(now) for t in app.main.query(ScanTable) for r in t.rows)
        assert f"oldest row {fmt.age(oldest)}" in bar
        clock.advance(30)
        await pilot.pause(1.3)
        later, bar = shown()
        assert later != ages  # it moved on without a refresh
        now = clock.now().timestamp()
        assert later == [fmt.age(r.age(now)) for r in movers.rows]
        # The chains' ages tick too, and the panel's title with them.
        bars = app.query_one(ShareBars)
        first = bars.rows[0]
        assert first.as_of is not None
        assert bars.cell(first.underlying, "age").plain == fmt.age(now - first.as_of)
        assert f"oldest {fmt.age(now - min(r.as_of for r in bars.rows if r.as_of))}" in str(
            app.query_one(OptionsPanel).border_title
        )

        # The card of a symbol outside the tables ticks with the same clock.
        symbol = await outside_symbol(app)
        await pilot.press("slash", *symbol.lower(), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        card = app.screen
        assert isinstance(card, SymbolScreen) and card.row is not None
        clock.advance(11)
        await pilot.pause(1.3)
        assert card.shown_age == fmt.age(card.row.age(clock.now().timestamp()))
        assert card.shown_age == fmt.age(card.row.age(clock.now().timestamp()))


def test_a_tick_before_the_card_is_drawn_waits_for_it() -> None:
    # The app ticks the card on screen each second; a tick can come between the card's push
    # and its first layout, when it has no grid yet (CI met NoMatches '#symbol-grid' once).
    card = SymbolScreen(
        Ticker("AAPL", "Apple Inc", "NASDAQ", "XNGS", "mega"), None, None, time.time
    )
    card.tick()


@pytest.mark.anyio
async def test_the_status_bar_says_a_first_refresh_is_under_way(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: app.snapshot is not None and app.snapshot.volume and not app.refreshes
        )
        text = str(app.query_one(StatusBar).render())
        assert "not refreshed yet" not in text and "first refresh under way" in text
        await ready(pilot, app)
        assert "refreshed" in str(app.query_one(StatusBar).render())


@pytest.mark.anyio
async def test_o_and_enter_chart_the_highlighted_symbol(tmp_path: Path) -> None:
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
        assert any(app.opened[0] in m for m in messages(app))
        # Enter on a volume row charts that row.
        volume = app.query_one("#volume", ScanTable)
        volume.focus()
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: len(app.opened) == 2)
        assert app.opened[1].endswith(f":{volume.selected_symbol}")
        # o on the options panel charts the highlighted underlying.
        bars = app.query_one(ShareBars)
        bars.focus()
        await pilot.press("o")
        await wait_for(pilot, lambda: len(app.opened) == 3)
        assert app.opened[2].endswith(f":{bars.selected_key}")


@pytest.mark.anyio
async def test_click_on_a_symbol_opens_its_chart(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        volume = app.query_one("#volume", ScanTable)
        first = volume.keys[0]
        # Inside the border: row 1 is the header, row 2 the first row; the symbol column
        # starts after "#" (2 wide) and its padding.
        await pilot.click("#volume", offset=(7, 2))
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{first}")


@pytest.mark.anyio
async def test_drill_down_keys_sort_reverse_chart_and_back(tmp_path: Path) -> None:
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
        table = screen.query_one(ContractTable)
        shown = table.shown(0, 50)
        volumes = [c.volume for c in shown]
        assert volumes == sorted(volumes, reverse=True) and volumes[0] > 0
        # Every contract is there, not the top 1,000.
        assert len(table.data) == len(table.data.rows) == screen.data.keys["volume"].size

        await pilot.press("s")  # the next column after Volume: open interest, biggest first
        assert (screen.sort_key, screen.descending) == ("oi", True)
        ois = [c.open_interest for c in table.shown(0, 50)]
        assert ois == sorted(ois, reverse=True)
        await pilot.press("S")  # reversed
        assert (screen.sort_key, screen.descending) == ("oi", False)
        ois = [c.open_interest for c in table.shown(0, 50)]
        assert ois == sorted(ois)
        # A header click sorts by that column; again reverses it.
        screen.sort_by("strike")
        strikes = [c.strike for c in table.shown(0, 200)]
        assert strikes == sorted(strikes)
        screen.sort_by("strike")
        again = [c.strike for c in table.shown(0, 200)]
        assert again == sorted(again, reverse=True) and again[0] == max(screen.data.keys["strike"])
        # Ties keep the most traded first: within one expiry, volume descends.
        screen.sort_by("expiry", descending=False)
        first = table.shown(0, 30)
        same = [c.volume for c in first if c.expiry == first[0].expiry]
        assert same == sorted(same, reverse=True)
        # The keys of the main screen do nothing here.
        tiers, treemap = app.current_tiers, app.query_one(OptionsPanel).showing_treemap
        await pilot.press("t", "f", "m", "w")
        assert isinstance(app.screen, ContractsScreen)
        assert app.current_tiers == tiers
        assert app.query_one(OptionsPanel).showing_treemap == treemap
        assert app.query_one(OptionsPanel).view == "watch"
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{top}")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


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
        # No detail is ever cut inside a figure ("0.5…").
        text = "\n".join(strip.text for strip in treemap._render_all(*treemap.size))
        assert "…" not in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContractsScreen))
        assert app.screen.underlying == treemap.selected_key  # type: ignore[attr-defined]
        await pilot.press("escape")
        await pilot.press("t")
        assert not panel.showing_treemap


@pytest.mark.anyio
async def test_w_shows_the_whole_market_from_occ(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("w")
        panel = app.query_one(OptionsPanel)
        assert panel.view == "market"
        snap = app.snapshot
        assert snap is not None and snap.market is not None
        rows = panel.rows
        assert rows[-1].underlying == OTHERS and rows[-1].grouped > 100
        assert abs(sum(r.share for r in rows) - 1.0) < 1e-9  # every contract of the day
        assert sum(r.total for r in rows) == snap.market.total
        title = str(panel.border_title)
        assert f"OCC {snap.market.day}" in title and "all US-listed options" in title
        # "All others" has no contracts and no chart: said, not silently ignored.
        bars = app.query_one(ShareBars)
        bars.focus()
        await pilot.press("end", "enter")
        await pilot.pause(0.2)
        assert any("no contracts to show" in m for m in messages(app))
        await pilot.press("o")
        await pilot.pause(0.2)
        assert any("has no chart" in m for m in messages(app)) and not app.opened
        # A name outside the watch set: why there are no contracts.
        watched = {s.underlying for s in snap.shares}
        outside = next(r.underlying for r in rows if r.underlying not in watched | {OTHERS})
        bars.select_key(outside)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("watch set" in m for m in messages(app)))
        assert isinstance(app.screen, MainScreen)
        # The treemap of the whole market has its "all others" block.
        await pilot.press("t")
        assert OTHERS in [b.key for b in app.query_one(Treemap).blocks]
        await pilot.press("w")
        assert panel.view == "watch" and OTHERS not in [r.underlying for r in panel.rows]


@pytest.mark.anyio
async def test_stale_chains_are_dimmed_and_left_out_of_the_shares(tmp_path: Path) -> None:
    settings = Settings()
    settings.options.chain_max_age = 5.0  # the simulated chains are 30 s old when fetched
    app = make_app(tmp_path, settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        bars = app.query_one(ShareBars)
        assert bars.rows and all(r.stale for r in bars.rows)
        assert set(column(bars, "pct")) == {"-"}
        title = str(app.query_one(OptionsPanel).border_title)
        assert f"{len(bars.rows)} older than 5s left out" in title
        assert not app.query_one(Treemap).blocks  # no share, no area


@pytest.mark.anyio
async def test_history_keys_act_on_the_history_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        movers_symbol = app.query_one("#movers", ScanTable).selected_symbol
        screen = await open_screen(pilot, app, "h", HistoryScreen)
        grid = screen.query_one("#history-grid", DataTable)
        assert grid.row_count == 20
        days = [row[0] for row in table_text(grid)]
        assert days == sorted(days, reverse=True)
        detail = screen.query_one("#history-day", DataTable)
        assert detail.row_count == 10
        flagged = [r for r in table_text(detail) if r[7]]
        assert all(r[7].startswith("first time in the top 10") for r in flagged)
        await pilot.press("down")
        await pilot.pause()
        assert str(screen.day) == days[1]

        # o charts the highlighted leader, never the hidden main screen's row.
        leader = screen.leader
        assert leader is not None
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{leader.underlying}")
        assert not app.opened[-1].endswith(f":{movers_symbol}") or (
            leader.underlying == movers_symbol
        )
        # t, f, m, w do nothing to the hidden main screen.
        panel = app.query_one(OptionsPanel)
        await pilot.press("t", "f", "m", "w")
        assert not panel.showing_treemap and panel.view == "watch"
        assert app.current_tiers == ("small", "mid", "large")

        # Enter on the days moves to the day's leaders; Enter on a leader opens its
        # contracts that day, or says why there are none.
        await pilot.press("enter")
        assert app.screen.focused is detail
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ContractsScreen)
                or any("No contracts" in m for m in messages(app))
            ),
        )
        if isinstance(app.screen, ContractsScreen):
            await pilot.press("escape")
        else:
            assert any(str(screen.day) in m for m in messages(app))
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@pytest.mark.anyio
async def test_enter_on_todays_leader_opens_its_contracts(tmp_path: Path) -> None:
    """A leader whose chain momoscan fetched that day opens straight into its contracts."""
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        snap = app.snapshot
        assert snap is not None and snap.options_day is not None
        watched = {s.underlying for s in snap.shares}
        screen = await open_screen(pilot, app, "h", HistoryScreen)
        # Put today's chains under a day the history shows, as if it had been watched then.
        day = next(iter(screen.history))
        leader = next(x for x in screen.history[day] if x.underlying in watched)
        await app.open_contracts(leader.underlying, day=snap.options_day)
        await wait_for(pilot, lambda: isinstance(app.screen, ContractsScreen))
        assert app.screen.underlying == leader.underlying  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_help_lists_the_keys_of_the_screen_it_was_opened_from(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        keys = [k for k, _ in help_screen.rows]
        for key in ("r", "f", "m", "/", "o", "t", "w", "h", "z", "Enter", "?", "q"):
            assert key in keys, key
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

        bars = app.query_one(ShareBars)
        bars.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContractsScreen))
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        keys = [k for k, _ in help_screen.rows]
        assert {"s", "S", "o", "Escape", "?", "q"} <= set(keys)
        assert "t" not in keys and "f" not in keys
        await pilot.press("question_mark")  # ? closes it too
        assert isinstance(app.screen, ContractsScreen)
        await pilot.press("escape")

        await open_screen(pilot, app, "h", HistoryScreen)
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        assert {"o", "Enter", "Escape"} <= {k for k, _ in help_screen.rows}
        await pilot.press("q")  # q closes the help, not the app
        assert isinstance(app.screen, HistoryScreen)


@pytest.mark.anyio
async def test_jump_card_keys_and_why_not(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        # Jump to a symbol in the volume table: the cursor lands on it.
        target = table_text(app.query_one("#volume", ScanTable))[3][1]
        await pilot.press("slash")
        assert isinstance(app.screen, JumpScreen)
        await pilot.press(*target.lower(), "enter")
        await pilot.pause()
        volume = app.query_one("#volume", ScanTable)
        assert app.focused is volume and volume.selected_symbol == target
        # Escape cancels the jump.
        await pilot.press("slash")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

        # A symbol outside the tables and the watch set: its card. Enter says why there
        # are no contracts; o charts it; Escape closes.
        symbol = await outside_symbol(app)
        await pilot.press("slash", *symbol.lower(), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        card = app.screen
        assert isinstance(card, SymbolScreen) and not card.options_volume
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert any(symbol in m and "watch set" in m for m in messages(app))
        assert isinstance(app.screen, SymbolScreen)
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{symbol}")
        await pilot.press("slash", *symbol.lower(), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        # Its priority line moves on with the clock (it used to stay as first drawn).
        card = app.screen
        before = card.why()
        assert before.startswith(("unseen", "priority", "never", "on screen", "streaming"))
        app.runtime.clock.advance(600)  # type: ignore[union-attr]
        if before.startswith(("unseen", "priority")):
            assert card.why() != before
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        # A real listing outside the cap tiers: the card says why it has no quote.
        from momoscan.simulated.universe import real_stocks

        shown = {x.underlying for x in app.snapshot.shares}  # type: ignore[union-attr]
        mega = next(
            x.symbol for x in real_stocks() if x.cap_tier == "mega" and x.symbol not in shown
        )
        await pilot.press("slash", *mega.lower(), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        card = app.screen
        assert card.row is None
        assert "outside your cap tiers" in card.no_quote()
        await pilot.press("escape")


@pytest.mark.anyio
async def test_tiers_refresh_zoom_and_quit(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        # f cycles the cap-tier filter: all chosen tiers, then each alone.
        await pilot.press("f")
        assert app.current_tiers == ("small",)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None and all(r.cap_tier == "small" for r in app.snapshot.moves)
            ),
        )
        await pilot.press("f", "f", "f")
        assert app.current_tiers == ("small", "mid", "large")

        # z zooms the focused panel; Escape restores it.
        volume = app.query_one("#volume", ScanTable)
        volume.focus()
        rows = volume.row_count
        await pilot.press("z")
        assert app.screen.maximized is volume
        # Zoomed, it shows as many rows as the screen holds (30 at most).
        await wait_for(pilot, lambda: volume.row_count == 30)
        assert volume.region.height == SIZE[1] - 1
        await pilot.press("escape")
        assert app.screen.maximized is None
        await wait_for(pilot, lambda: volume.row_count == rows)

        # The options panel zooms too, in either view and either form.
        panel = app.query_one(OptionsPanel)
        for keys in ((), ("t",), ("w",), ("t",)):
            await pilot.press(*keys)
            focused = panel.query_one(Treemap if panel.showing_treemap else ShareBars)
            focused.focus()
            await pilot.press("z")
            assert app.screen.maximized is panel, keys
            await pilot.pause(0.1)
            assert panel.region.height >= SIZE[1] - 1
            await pilot.press("z")
            assert app.screen.maximized is None

        # r refreshes now.
        await pilot.press("r")
        await ready(pilot, app, refreshes=2)

        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


@pytest.mark.anyio
async def test_ctrl_c_quits(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running or app._exit_renderables is not None or app.return_code == 0


# ---------------------------------------------------------------------------------------------
# Layouts


def _cells_fit(table: FastTable) -> None:
    """Every shown cell of every shown fixed column is whole (no ellipsis, no cut)."""
    for key in table.shown_columns:
        column_def = next(c for c in table.columns if c.key == key)
        if column_def.flex:
            continue
        width = table.column_width(key)
        assert width is not None
        for row in table.keys:
            text = table.cell(row, key).plain
            assert len(text) <= width and "…" not in text, (key, text, width)


@pytest.mark.anyio
async def test_80x24_shows_whole_numbers_and_every_panel(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.pause(0.2)
        scans = app.query_one("#scans")
        assert scans.has_class("stacked")
        for table in app.query(ScanTable):
            # Symbol, % change, price, volume, RVol and age are all there, whole.
            assert {"symbol", "change", "price", "volume", "rvol", "age"} <= set(
                table.shown_columns
            )
            _cells_fit(table)
            assert table.region.height >= 4 + 3  # at least 4 rows in view
        bars = app.query_one(ShareBars)
        assert {"underlying", "pct", "volume", "age"} <= set(bars.shown_columns)
        _cells_fit(bars)
        assert bars.region.height >= 4  # the options panel is on screen
        screen = app.screen
        assert bars.region.bottom <= screen.size.height - 1  # above the footer


@pytest.mark.anyio
async def test_200x60_uses_the_space(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot, app)
        await pilot.pause(0.2)
        assert not app.query_one("#scans").has_class("stacked")
        movers = app.query_one("#movers", ScanTable)
        assert movers.row_count > 20 and movers.region.height >= movers.row_count + 1
        bars = app.query_one(ShareBars)
        bar_width = bars.column_width("bar")
        assert bar_width is not None and bar_width > 100  # the bars widen
        # The options panel shows all its rows, with at most a few blank lines under them.
        assert bars.region.height >= bars.row_count + 1
        assert bars.region.height - (bars.row_count + 1) <= 3
        # The largest share's bar fills the column.
        top = bars.keys[0]
        assert bars.cell(top, "bar").cell_len >= bar_width - 2


# ---------------------------------------------------------------------------------------------
# Data shown literally, failures and alerts


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
    # Wide enough for the longest name beside the sparklines and the float columns, uncut.
    async with app.run_test(size=(260, 45)) as pilot:
        await wait_for(pilot, lambda: app.refreshes and app.query_one("#movers").row_count)
        await pilot.pause(0.2)
        names = {row[2] for row in table_text(app.query_one("#movers", ScanTable))}
        assert names and names <= set(MARKUP_NAMES)
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
        for literal in MARKUP_NAMES:
            if literal in names:
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
        assert app.query_one("#movers", ScanTable).row_count >= 10  # the last good data stays


async def step_until_entries(pilot: Any, app: MomoscanApp, steps: int = 12) -> None:
    """Move the simulated clock on 10 minutes and refresh, until the scanner announces an
    entry (or `steps` times)."""
    clock = app.runtime.clock  # type: ignore[union-attr]
    assert isinstance(clock, FixedClock)
    for _ in range(steps):
        clock.advance(600)
        target = app.refreshes + 1
        await pilot.press("r")
        await ready(pilot, app, refreshes=target)
        if any(e.name == "Top movers" for e in app.scanner_alerts):
            return


@pytest.mark.anyio
async def test_alerts_when_a_symbol_enters_the_top_movers(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        before = {r.symbol for r in app.snapshot.moves[:10]}  # type: ignore[union-attr]
        await step_until_entries(pilot, app)
        await pilot.pause(0.3)
        entered = [e.symbol for e in app.scanner_alerts if e.name == "Top movers"]
        assert entered and not set(entered) & before
        notes = [n.message for n in app._notifications if n.title == "Top movers"]
        for symbol in entered:
            assert any(m.startswith(f"{symbol} entered the top movers") for m in notes)
        now_top = {r.symbol for r in app.snapshot.moves[:10]}  # type: ignore[union-attr]
        table = app.query_one("#movers", ScanTable)
        styles = {table.row(k)[1].plain: str(table.row(k)[1].style) for k in table.keys}
        assert all("reverse" in styles[s] for s in entered if s in now_top and s in styles)
        # Kept in the database with the rules' alerts: the alerts screen lists them.
        screen = await open_screen(pilot, app, "a", AlertsScreen)
        assert {row[2] for row in table_text(screen.query_one(DataTable))} >= set(entered)


async def scanner_session(tmp_path: Path, size: tuple[int, int]) -> list[tuple[str, str, float]]:
    """One demo session at `size`: zoom, unzoom, resize, the movers view and the tier filter
    flipped, then the clock stepped until entries come; the scanner's alerts it raised."""
    tmp_path.mkdir()
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        boards = ("Top movers", "Top volume")
        # The first look is a baseline; yesterday's NEW options entrants are announced.
        assert [e for e in app.scanner_alerts if e.name in boards] == []
        options = list(app.scanner_alerts)
        for key in ("z", "z", "m", "f", "tab", "tab", "z", "z"):
            await pilot.press(key)
        await pilot.resize_terminal(size[0] + 37, size[1] + 11)
        await pilot.pause(0.5)
        await pilot.resize_terminal(*size)
        await pilot.pause(1.5)  # a read or two after the resizes
        assert app.scanner_alerts == options  # nothing on screen is a signal
        await step_until_entries(pilot, app)
        return [(e.name, e.symbol, e.at) for e in app.scanner_alerts]


@pytest.mark.anyio
async def test_the_same_alerts_at_80x24_and_200x60(tmp_path: Path) -> None:
    small = await scanner_session(tmp_path / "small", (80, 24))
    large = await scanner_session(tmp_path / "large", (200, 60))
    assert any(name == "Top movers" for name, _, _ in small)
    # At 80x24 the movers table shows 4 rows: names entering at #5-#10 are announced too.
    assert small == large


# ---------------------------------------------------------------------------------------------
# Sparklines, the chart screen, alerts and the watchlist (issue 13)


def blocks(text: str) -> str:
    return "".join(c for c in text if c in "▁▂▃▄▅▆▇█")


@pytest.mark.anyio
async def test_rows_carry_the_days_sparkline_and_a_trade_moves_its_last_point(
    tmp_path: Path,
) -> None:
    from momoscan.engine.stream import Tick

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        movers = app.query_one("#movers", ScanTable)
        assert "trend" in movers.shown_columns
        for table in app.main.query(ScanTable):
            for key in table.keys:
                spark = table.spark(key)
                # The demo starts with the session so far: 11:30 is 24 five-minute buckets
                # from the open, plus the refresh's own.
                assert spark is not None and len(spark.prices) >= 24, key
                # Drawn to the Today column's width (10 where there is room, 5 at least).
                width = table.column_width("trend")
                assert width is not None and 5 <= width <= 10
                assert len(blocks(table.cell(key, "trend").plain)) == width
        symbol = movers.keys[0]
        spark = movers.spark(symbol)
        assert spark is not None and spark.last_ts is not None
        # A trade in the newest point's bucket moves that point; a later one adds a point.
        app._on_ticks([Tick(symbol, spark.prices[-1] * 1.5, None, None, spark.last_ts + 10)])
        moved = movers.spark(symbol)
        assert moved is not None and len(moved.prices) == len(spark.prices)
        assert moved.prices[-1] == pytest.approx(spark.prices[-1] * 1.5)
        assert blocks(movers.cell(symbol, "trend").plain)[-1] == "█"  # the day's new high
        app._on_ticks([Tick(symbol, spark.prices[-1], None, None, spark.last_ts + 300)])
        grown = movers.spark(symbol)
        assert grown is not None and len(grown.prices) == len(spark.prices) + 1


@pytest.mark.anyio
async def test_c_opens_the_day_chart_with_the_previous_close(tmp_path: Path) -> None:
    from momoscan.engine.stream import Tick
    from momoscan.tui.screens.chart import ChartScreen
    from momoscan.tui.widgets.chart import DayChart

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        movers = app.query_one("#movers", ScanTable)
        movers.focus()
        await pilot.press("down")
        symbol = movers.selected_symbol
        screen = await open_screen(pilot, app, "c", ChartScreen)
        assert screen.symbol == symbol
        data = screen.data
        assert len(data.prices) >= 24 and data.prev_close is not None
        row = next(r for r in movers.rows if r.symbol == symbol)
        assert data.prices[-1] == pytest.approx(row.price)
        chart = screen.query_one(DayChart)
        drawn = "\n".join(line.plain for line in chart.render().split())
        # The previous close is on the axis: on its row, or pointed to when it is off the
        # chart (a gap larger than the day's range).
        assert fmt.price(data.prev_close) in drawn and fmt.price(data.prices[-1]) in drawn
        assert "09:30" in drawn and "16:00" in drawn
        title = str(screen.query_one("#chart-title").render())
        assert f"prev close {fmt.price(data.prev_close)}" in title
        # A streamed trade moves the newest point at once.
        app._on_ticks([Tick(symbol, data.prices[-1] + 0.5, None, None, data.times[-1] + 5)])
        assert screen.data.prices[-1] == pytest.approx(data.prices[-1] + 0.5)
        assert len(screen.data.prices) == len(data.prices)
        # The main screen's keys do nothing here; o opens TradingView; Escape goes back.
        await pilot.press("t", "f", "m", "w")
        assert isinstance(app.screen, ChartScreen) and app.current_tiers == (
            "small",
            "mid",
            "large",
        )
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        assert {"o", "Escape"} <= {k for k, _ in help_screen.rows}
        await pilot.press("escape")
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{symbol}")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

        # An underlying momoscan does not quote (a mega cap outside the tiers): said why.
        bars = app.query_one(ShareBars)
        bars.focus()
        bars.select_key("NVDA")
        await pilot.press("c")
        await wait_for(pilot, lambda: any("outside your cap tiers" in m for m in messages(app)))
        assert isinstance(app.screen, MainScreen)

        # The card of a symbol outside the tables draws its day too; c opens the chart.
        outside = await outside_symbol(app)
        await pilot.press("slash", *outside.lower(), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        card = app.screen
        assert isinstance(card, SymbolScreen) and card.chart is not None
        assert len(card.chart.prices) >= 24 and card.query(DayChart)
        from momoscan.tui.screens.dialogs import help_rows

        assert "c" in {k for k, _ in help_rows(card, app.BINDINGS)}
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        assert app.screen.symbol == outside  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_alert_rules_notify_ring_and_the_alerts_screen_lists_them(tmp_path: Path) -> None:
    from momoscan.config import AlertRule
    from momoscan.tui.screens.alerts import AlertsScreen
    from momoscan.tui.screens.chart import ChartScreen

    settings = Settings()
    settings.alerts.bell = True
    settings.alerts.rules = [AlertRule(name="Runner", pct_above=20.0, rvol_above=1.5)]
    app = make_app(tmp_path, settings)
    rang: list[bool] = []
    app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
    sent: list[list[str]] = []

    class Desktop:
        active = True

        async def notify(self, events: Any) -> bool:
            sent.append([e.symbol for e in events])
            return True

    app.notifier = Desktop()  # type: ignore[assignment]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await wait_for(pilot, lambda: app.rule_alerts and sent)
        fired = [e.symbol for e in app.rule_alerts]
        runners = [n for n in app._notifications if n.title == "Runner"]
        if len(fired) <= 3:
            assert {n.message.split(" ")[0] for n in runners} == set(fired)
            assert all("change ≥ +20%" in n.message for n in runners)
        else:  # many at once: one notification names them all
            (note,) = [n for n in app._notifications if n.title == f"{len(fired)} alerts"]
            assert all(symbol in note.message for symbol in fired)
        assert rang  # the bell
        assert sorted(s for batch in sent for s in batch) == sorted(fired)  # one desktop notice

        screen = await open_screen(pilot, app, "a", AlertsScreen)
        listed = [e.symbol for e in screen.events if e.rule != "scanner"]
        assert sorted(listed) == sorted(fired)
        assert any(e.rule == "scanner" for e in screen.events)  # the options top-10 entrant
        assert "1 rule in the config" in str(screen.query_one("#alerts-title").render())
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        assert {"c", "o", "Escape"} <= {k for k, _ in help_screen.rows}
        await pilot.press("escape")
        first = screen.events[0].symbol
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{first}")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        assert app.screen.symbol == first  # type: ignore[attr-defined]
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, MainScreen)


@pytest.mark.anyio
async def test_plus_and_minus_edit_the_watchlist_kept_in_the_database(tmp_path: Path) -> None:
    from momoscan.store import Store
    from momoscan.tui.screens.watchlist import WatchlistScreen, WatchTable

    settings = Settings()
    settings.scan.watchlist = ["CCJ"]
    app = make_app(tmp_path, settings)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        volume = app.query_one("#volume", ScanTable)
        volume.focus()
        await pilot.press("down")
        symbol = volume.selected_symbol
        assert symbol is not None and symbol != "CCJ"
        # + offers the highlighted symbol; Enter takes it.
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpScreen))
        assert app.screen.value == symbol  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(f"Added {symbol}" in m for m in messages(app)))
        # - on a symbol that is not on it says so.
        movers = app.query_one("#movers", ScanTable)
        movers.focus()
        other = next(k for k in movers.keys if k not in ("CCJ", symbol))
        movers.select_key(other)
        await pilot.press("minus")
        await wait_for(pilot, lambda: any(f"{other} is not on" in m for m in messages(app)))

        screen = await open_screen(pilot, app, "l", WatchlistScreen)
        table = screen.query_one(WatchTable)
        assert table.keys == ["CCJ", symbol]
        spark = table.sparks.get("CCJ")
        assert spark is not None and len(spark.prices) >= 24
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        assert {"+", "-", "c", "o", "Escape"} <= {k for k, _ in help_screen.rows}
        await pilot.press("escape")
        # + here asks for a typed symbol; - removes the highlighted one.
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpScreen))
        await pilot.press(*"zzzz", "enter")  # a valid spelling, but no source knows it
        await wait_for(pilot, lambda: any("ZZZZ is not a listing" in m for m in messages(app)))
        assert "ZZZZ" not in table.keys
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpScreen))
        await pilot.press(*"aapl", "enter")  # a mega cap: outside the demo's tiers, but real
        await wait_for(pilot, lambda: "AAPL" in table.keys)
        assert "outside your cap tiers" in table.cell("AAPL", "name").plain
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, JumpScreen))
        await pilot.press(*"$$", "enter")
        await wait_for(
            pilot, lambda: len([n for n in app._notifications if n.severity == "warning"])
        )
        table.select_key("CCJ")
        await pilot.press("minus")
        await wait_for(pilot, lambda: table.keys == [symbol, "AAPL"])
        await pilot.press("o")
        await wait_for(pilot, lambda: app.opened)
        assert app.opened[-1].endswith(f":{symbol}")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        db = app.options.db
    # Kept in the database: the next run starts with it, and the config's CCJ stays removed.
    assert db is not None
    with Store(Path(db)) as store:
        store.seed_watchlist(["CCJ"], at=0.0)
        assert store.watchlist() == [symbol, "AAPL"]


@pytest.mark.anyio
async def test_120x40_side_by_side_shows_names_and_sparklines_and_leaves_no_blank(
    tmp_path: Path,
) -> None:
    """Issue 29: at 120x40 the two tables stand side by side with every column, the name and
    the day's sparkline included, and no table keeps blank cells while it leaves one out."""
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.pause(0.2)
        assert not app.query_one("#scans").has_class("stacked")
        for table in app.query(ScanTable):
            assert {"name", "trend", "symbol", "change", "price"} <= set(table.shown_columns)
            _cells_fit(table)
            trend = table.column_width("trend")
            assert trend is not None and trend >= 6
            key = table.keys[0]
            assert len(blocks(table.cell(key, "trend").plain)) == trend  # drawn to fit
            # No blank while a column is left out: what is left is less than the narrowest
            # left-out column (with its gap) needs. (An empty marks column is not left out.)
            shown = table.shown_columns
            left_out = [
                c
                for c in table.columns
                if c.key not in shown
                and not (c.hide_empty and not any(table.marks(k) for k in table.keys))
            ]
            if left_out:
                used = sum(w for w in map(table.column_width, shown) if w)
                pad = table._ft_pad
                gaps = len(shown) * pad + (1 if pad == 1 else 0)
                spare = table.scrollable_content_region.width - used - gaps
                assert all(c.width + pad > spare for c in left_out), (spare, left_out)


@pytest.mark.anyio
async def test_help_shows_the_whole_status_the_bar_shortens(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        bar = str(app.query_one(StatusBar).render())
        assert "simulated market" not in bar and "(sim clock)" not in bar  # short at 80
        help_screen = await open_screen(pilot, app, "question_mark", HelpScreen)
        assert help_screen.status is not None
        full = help_screen.status.plain
        assert "credits " in full and "this min" in full and "simulated market" in full


@pytest.mark.anyio
async def test_s_sorts_only_by_columns_in_view_and_the_title_says_when_one_is_not(
    tmp_path: Path,
) -> None:
    """Issue 29: at 80 columns the contracts screen cannot show Last and % of und.; `s` skips
    them, and a sort by a column out of view (a header clicked, then the terminal
    narrowed) says so in the title."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        app.query_one(ShareBars).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContractsScreen))
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, ContractsScreen)
        table = screen.query_one(ContractTable)
        visible = table.visible_columns()
        assert "last" not in visible and "volume" in visible
        seen = set()
        for _ in range(len(table.data.widths)):
            await pilot.press("s")
            seen.add(screen.sort_key)
        assert seen <= set(visible) and len(seen) == len(visible)
        screen.sort_by("last")
        await pilot.pause(0.1)
        title = str(screen.query_one("#contracts-title").render())
        assert "sorted by Last" in title and "off screen" in title
