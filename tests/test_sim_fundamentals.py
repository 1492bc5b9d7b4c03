"""The simulated market's company facts and FINRA files: figures that make sense by tier (the
planted runners mostly low float), read back by the real clients over a real 127.0.0.1 socket
with their faults, and the demo's first cycles storing floats and short interest for the
names on screen."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.queries import fundamentals as fq
from momoscan.runtime import open_runtime
from momoscan.simulated.facts import company_facts, low_float_names, no_shares_name
from momoscan.simulated.faults import FaultPlan
from momoscan.simulated.finra import published_on
from momoscan.simulated.http_server import ProviderServer
from momoscan.simulated.market import GAPPER, NEWS, RUNNER, SimMarket
from momoscan.simulated.sec import company_ciks
from momoscan.sources.errors import MalformedResponse
from momoscan.sources.finra import FinraClient, FinraNotPublished
from momoscan.sources.sec import SecHttp
from momoscan.sources.sec_facts import SecFactsClient
from momoscan.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from test_halts_core import Wall, demo_options

DAY = date(2026, 11, 20)  # a Friday
UA = "Jo Trader jo@example.com"


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=mh.ET)


def test_floats_make_sense_by_tier_and_runners_are_mostly_low_float() -> None:
    clock = FixedClock(at(10))
    market = SimMarket(7, 0, clock, start_day=DAY)
    now = clock.now()
    figures = {s.symbol: company_facts(market, s.symbol, now) for s in market.stocks}
    tiers = {s.symbol: s.cap_tier for s in market.stocks}

    def median_float(tier: str) -> float:
        values = sorted(
            f.float_shares
            for s, f in figures.items()
            if f is not None and f.float_shares and tiers[s] == tier
        )
        return values[len(values) // 2]

    assert median_float("mega") > median_float("mid") > median_float("micro")
    stories = [
        market.securities[mv.index].symbol
        for mv in market.movers_for(DAY)
        if mv.kind in (RUNNER, NEWS, GAPPER) and mv.log_move > 0
    ]
    low = low_float_names(market, DAY)
    assert stories and len(low) >= 0.6 * len(stories)
    for symbol in low:
        f = figures[symbol]
        assert f is not None and f.float_shares is not None
        assert 1_000_000 <= f.float_shares <= 8_000_000
    # Some report no public float; one reports no shares at all; some split their classes.
    assert any(f is not None and f.shares and f.public_float_usd is None for f in figures.values())
    gone = figures[no_shares_name(market)]
    assert gone is not None and gone.shares is None and gone.public_float_usd is None
    assert any(f is not None and len(f.classes) == 2 for f in figures.values())
    # Settlement dates come out 8 trading days on: 11-13's on 11-25.
    assert published_on(date(2026, 11, 13)) == date(2026, 11, 25)


@pytest.mark.anyio
async def test_the_files_over_a_real_socket_faults_included() -> None:
    clock = FixedClock(at(18, 30))
    with ProviderServer(clock=clock) as server:
        market = server.sim.market
        ciks = company_ciks(market)
        runner = sorted(low_float_names(market, DAY))[0]
        blank = no_shares_name(market)
        async with httpx.AsyncClient(timeout=10) as session:
            facts = SecFactsClient(
                SecHttp(session, user_agent=UA), facts_url=f"{server.url}/api/xbrl/companyfacts/"
            )
            got = await facts.company(ciks[runner])
            none = await facts.company(ciks[blank])
            missing = await facts.company(1_999_999)
            finra = FinraClient(
                session,
                short_interest_url=f"{server.url}/equity/otcmarket/biweekly/",
                short_volume_url=f"{server.url}/equity/regsho/daily/",
            )
            universe = [s.symbol for s in market.stocks]
            interest = await finra.short_interest(DAY, universe)
            volume = await finra.short_volume(DAY, universe)
    expected = company_facts(market, runner, clock.now())
    assert expected is not None and got.shares_outstanding == expected.shares
    assert got.shares_as_of is not None and got.shares_as_of < DAY
    assert got.public_float_usd is None or got.float_as_of == date(2025, 6, 30)
    assert none.found and none.shares_outstanding is None and none.public_float_usd is None
    assert not missing.found
    # 11-13 is not out until 11-25: the newest published settlement is 10-30.
    assert interest.settlement == date(2026, 10, 30)
    by = {r.symbol: r for r in interest.rows}
    assert set(by) == set(universe) and interest.collisions == 0
    assert by[runner].days_to_cover is not None
    # 18:30 ET: the day's short volume is posted.
    assert volume.day == DAY and len(volume.rows) == len(universe)
    assert all(0.0 < (r.short_share or 0) < 1.0 for r in volume.rows)

    faults = FaultPlan.parse("facts_truncated=1,finra_403=1,finra_404=1")
    with ProviderServer(clock=clock, faults=faults) as broken:
        async with httpx.AsyncClient(timeout=10) as session:
            facts = SecFactsClient(
                SecHttp(session, user_agent=UA), facts_url=f"{broken.url}/api/xbrl/companyfacts/"
            )
            with pytest.raises(MalformedResponse, match=f"CIK {ciks[runner]}"):
                await facts.company(ciks[runner])
            finra = FinraClient(
                session,
                short_interest_url=f"{broken.url}/equity/otcmarket/biweekly/",
                short_volume_url=f"{broken.url}/equity/regsho/daily/",
            )
            with pytest.raises(FinraNotPublished, match="HTTP 403"):
                await finra.short_interest(DAY)
            with pytest.raises(FinraNotPublished, match="HTTP 404"):
                await finra.short_volume(DAY)
    with ProviderServer(clock=clock, faults=FaultPlan.parse("facts_no_shares=1")) as bare:
        async with httpx.AsyncClient(timeout=10) as session:
            facts = SecFactsClient(
                SecHttp(session, user_agent=UA), facts_url=f"{bare.url}/api/xbrl/companyfacts/"
            )
            stripped = await facts.company(ciks[runner])
    assert stripped.found and stripped.shares_outstanding is None
    assert broken.sim.injected["facts_truncated"] == 1
    assert bare.sim.injected["facts_no_shares"] == 1


@pytest.mark.anyio
async def test_the_demo_shows_floats_and_short_interest_from_its_first_cycle(
    tmp_path: Path,
) -> None:
    clock = FixedClock(at(10))
    wall = Wall(clock)
    settings = Settings()
    settings.options.enabled = False
    settings.demo.size = 600
    async with open_runtime(settings, demo_options(tmp_path / "d.db", wall)) as rt:
        rt.clock.at = clock.at  # type: ignore[attr-defined]
        wall.clock = rt.clock  # type: ignore[assignment]
        report = await rt.engine.refresh(full=True)
        assert report.status == "ok", report.lines()
        market = rt.market
        assert isinstance(market, SimMarket)
        with Store(rt.db_path) as store:
            from momoscan import queries

            on_screen = queries.hot_symbols(
                store, settings.universe.cap_tiers, settings.universe.min_price
            )
            floats = fq.floats(store)
            interest = fq.short_interest(store)
            volume = fq.short_volume(store)
    assert on_screen and set(on_screen) <= set(floats)
    low = low_float_names(market, DAY) & set(on_screen)
    assert low, "a planted low-float runner on the first screen"
    for symbol in low:
        figure = floats[symbol]
        assert figure.float_shares is not None and figure.float_shares < 15_000_000
        assert figure.float_basis
        assert interest[symbol].settlement == date(2026, 10, 30)
    assert set(on_screen) <= set(interest) and set(on_screen) <= set(volume)
    assert all(v.day == date(2026, 11, 19) for v in volume.values())  # before 18:00 ET
