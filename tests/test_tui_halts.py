"""Halts, SSR and the high of the day on the screens (issue 26): the row's marks, the halts
screen (H), the card (/), the chart's halt band, the status bar's market-wide halt, and the
headless text and JSON. The halts are written into the demo's database as the collector's
halts step stores them, so what is tested is what the screens make of stored halts."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_tui import make_app, open_screen, ready, wait_for

from momoscan import headless, queries
from momoscan import market_hours as mh
from momoscan.halts import Halt, ShortSaleRestriction
from momoscan.models import DayHigh
from momoscan.store import Store
from momoscan.tui.screens.chart import ChartScreen
from momoscan.tui.screens.dialogs import SymbolScreen
from momoscan.tui.screens.halts import HaltsScreen
from momoscan.tui.widgets.chart import ChartData, draw_chart
from momoscan.tui.widgets.scan_table import ScanTable
from momoscan.tui.widgets.status import StatusBar


def _halt(symbol: str, day: date, at: float, resume: float | None, reason: str = "LUDP") -> Halt:
    return Halt(symbol, day, at, reason, "NASDAQ", f"{symbol} Corp", at, resume)


async def _store(app: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    assert app.runtime is not None
    return await app.runtime.engine.store.call(fn, *args, **kwargs)


@pytest.mark.anyio
async def test_a_halted_name_says_halt_on_its_row_card_chart_and_the_halts_screen(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot, app)
        movers = app.query_one("#movers", ScanTable)
        halted, resumed, restricted = movers.keys[0], movers.keys[1], movers.keys[2]
        now = app.market_epoch()
        day = datetime.fromtimestamp(now, mh.ET).date()
        await _store(
            app,
            Store.store_halts,
            [
                _halt(halted, day, now - 120, now + 180),
                _halt(resumed, day, now - 600, now - 120, reason="T1"),
            ],
            seen_at=now,
        )
        await _store(
            app,
            Store.store_restrictions,
            [ShortSaleRestriction(restricted, day, now - 900, "list")],
            seen_at=now,
        )
        app.read_soon()
        await wait_for(pilot, lambda: any(m.kind == "halt" for m in movers.marks(halted)))
        assert "marks" in movers.shown_columns
        resumes = datetime.fromtimestamp(now + 180, mh.ET).strftime("%H:%M")
        assert movers.cell(halted, "marks").plain == f"HALT LULD to {resumes}"
        assert movers.cell(resumed, "marks").plain.startswith("RESUMED 2m")
        assert movers.cell(restricted, "marks").plain == "SSR"
        status = str(app.query_one(StatusBar).render())
        assert "1 halted" in status

        # The halts screen lists both, newest first, and the SSR names.
        screen = await open_screen(pilot, app, "H", HaltsScreen)
        # (the simulated market's own halts of the morning come after ours)
        assert [h.symbol for h in screen.halts][:2] == [halted, resumed]
        halted_now = sum(1 for h in screen.halts if h.halted(now))
        title = str(screen.query_one("#halts-title").render())
        assert f"{len(screen.halts)} halts · {halted_now} halted now" in title
        ssr = str(screen.query_one("#halts-ssr").render())
        assert restricted in ssr
        await pilot.press("escape")

        # The chart draws the halt as a band.
        app.open_day_chart_soon(halted)
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        chart = app.screen
        assert isinstance(chart, ChartScreen)
        assert chart.data.halts and chart.data.halts[0][0] == pytest.approx(now - 120)
        await pilot.press("escape")

        # The card says why.
        app.show_symbol_soon(halted)
        await wait_for(pilot, lambda: isinstance(app.screen, SymbolScreen))
        card = app.screen
        assert isinstance(card, SymbolScreen)
        rows = {label: text.plain for label, text in card.context()}
        assert rows["Halt"].startswith("HALTED LUDP LULD pause")
        assert "trading resumes" in rows["Halt"]
        await pilot.press("escape")


@pytest.mark.anyio
async def test_a_market_wide_halt_is_on_the_status_bar_at_80_columns(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        now = app.market_epoch()
        day = datetime.fromtimestamp(now, mh.ET).date()
        await _store(
            app,
            Store.store_halts,
            [_halt("SPY", day, now - 60, now + 840, reason="MWC1")],
            seen_at=now,
        )
        app.read_soon()
        bar = app.query_one(StatusBar)
        await wait_for(
            pilot, lambda: "MWCB" in str(bar.render()) or "MARKET-WIDE" in str(bar.render())
        )
        text = str(bar.render())
        assert "MWCB L1" in text or "MARKET-WIDE HALT level 1" in text


def test_the_chart_draws_a_halt_band_where_the_halt_was() -> None:
    start = datetime(2026, 11, 20, 9, 30, tzinfo=mh.ET).timestamp()
    times = tuple(int(start + 300 * i) for i in range(20))
    prices = tuple(10.0 + 0.1 * i for i in range(20))
    plain = ChartData(times, prices, tuple(1000 for _ in times), 9.5, date(2026, 11, 20))
    banded = ChartData(
        times, prices, plain.volumes, 9.5, plain.day, ((start + 1500, start + 1800),)
    )
    without = draw_chart(plain, 60, 12)
    with_band = draw_chart(banded, 60, 12)
    assert "H" not in without[0].plain
    assert "H" in with_band[0].plain
    styled = [s for s in with_band[1].spans if "#5f0000" in str(s.style)]
    assert styled  # the band's background behind the price rows


def test_row_marks_order_and_freshness() -> None:
    from momoscan.marks import HOD_FRESH, row_marks
    from momoscan.queries.halts import HaltState

    now = 1_800_000_000.0
    halts = {
        "A": HaltState("A", "LUDP", "LULD pause", now - 60, now + 240, True, None, "LULD"),
        "B": HaltState("B", "T1", "news pending", now - 900, now - 120, False, now - 120, "news"),
    }
    restrictions = {"A": ShortSaleRestriction("A", date(2026, 11, 20))}
    highs = {
        "A": DayHigh("A", 12.0, 3, now - 10),
        "C": DayHigh("C", 5.0, 1, now - HOD_FRESH - 1),  # too long ago: no mark
    }
    a = row_marks("A", now, halts=halts, restrictions=restrictions, highs=highs)
    resumes = datetime.fromtimestamp(now + 240, mh.ET).strftime("%H:%M")
    assert [m.text for m in a] == [f"HALT LULD to {resumes}", "SSR", "HOD 3"]
    assert a[0].alarm
    b = row_marks("B", now, halts=halts, restrictions=restrictions, highs=highs)
    assert [m.text for m in b] == ["RESUMED 2m"]
    assert row_marks("C", now, halts=halts, restrictions=restrictions, highs=highs) == []


def test_headless_json_rows_carry_halt_ssr_and_high(tmp_path: Path) -> None:
    from momoscan.queries.halts import HaltState

    now = datetime(2026, 11, 20, 10, 5, tzinfo=mh.ET).timestamp()
    day = date(2026, 11, 20)
    row = queries.ScanRow(
        "ABC", "ABC Corp", "NASDAQ", "XNAS", "small", "", 10.0, 12.0, 1000, 500, 2.0, now, int(now)
    )
    snap = queries.Snapshot(
        movers=[row],
        volume=[row],
        shares=[],
        options_day=None,
        leaders=[],
        leaders_day=None,
        universe=queries.UniverseInfo("file", None, 1, "", None),
        last_run=None,
        last_good_run=None,
        fresh=1,
        quoted=1,
        symbol_errors=0,
        read_at=now,
        market_now=now,
        halts={
            "ABC": HaltState("ABC", "LUDP", "LULD pause", now - 60, now + 240, True, None, "LULD")
        },
        restrictions={"ABC": ShortSaleRestriction("ABC", day, now - 3600, "rule")},
        highs={"ABC": DayHigh("ABC", 10.5, 2, now - 30)},
    )
    rows = headless._scan_json(snap.movers, snap)
    assert rows[0]["marks"] == ["HALT LULD to 10:09", "SSR", "HOD 2"]
    assert rows[0]["halt"]["reason"] == "LUDP" and rows[0]["halt"]["halted"] is True
    assert rows[0]["ssr"] == {
        "in_force": "2026-11-20",
        "trigger_day": "2026-11-20",
        "triggered_at": now - 3600,
        "source": "rule",
    }
    assert rows[0]["high_of_day"]["new_highs_today"] == 2
    json.dumps(rows)  # serialisable
    ctx = headless.Context(
        "demo", datetime.fromtimestamp(now, mh.ET), "open", ["small"], 1.0, "a file"
    )
    console = Console(width=160, record=True, color_system=None)
    console.print(headless.render(snap, ctx, 160))
    text = console.export_text()
    assert "Marks" in text and "HALT LULD to 10:09 SSR HOD 2" in text
    assert "Halted now: ABC (LUDP LULD pause, resumes 10:09 ET)" in text
