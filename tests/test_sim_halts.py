"""The simulated market's halts and Rule 201 list: on its clock, held in its paths, served in
Nasdaq Trader's wire formats (faults included) and read back by the real client, through the
transport and over a real 127.0.0.1 socket."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import httpx
import numpy as np
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.faults import FaultPlan
from momoscan.simulated.halts import band
from momoscan.simulated.http_server import ProviderServer
from momoscan.simulated.market import OPEN_MINUTE, SimMarket
from momoscan.simulated.transport import SimulatedMarketTransport, quote_objects
from momoscan.sources.errors import SourceError
from momoscan.sources.nasdaqtrader import NasdaqTraderClient, SsrListMissing, parse_halts

DEMO_SEED = 7  # [demo] seed's default
DAY = date(2026, 11, 20)  # a Friday, EST
SUMMER = date(2026, 7, 15)  # a Wednesday, EDT
HALTS_URL = "https://www.nasdaqtrader.com/rss.aspx?feed=tradehalts"
SSR_URL = "https://www.nasdaqtrader.com/dynamic/symdir/shorthalts/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=mh.ET)


def demo_market(day: date, clock: FixedClock) -> SimMarket:
    """The demo's market as it starts on `day`: its seed, the built-in universe."""
    return SimMarket(DEMO_SEED, 0, clock, start_day=day)


def nt(transport: httpx.AsyncBaseTransport) -> tuple[httpx.AsyncClient, NasdaqTraderClient]:
    session = httpx.AsyncClient(transport=transport)
    return session, NasdaqTraderClient(session, halts_url=HALTS_URL, ssr_url=SSR_URL)


@pytest.mark.parametrize("day", [DAY, SUMMER, date(2026, 11, 16)])
@pytest.mark.anyio
async def test_the_demo_shows_a_halt_and_a_resumption_in_its_first_ten_minutes(
    day: date,
) -> None:
    """[demo] start 10:00 with the demo's seed: the feed read at 10:10 holds a halt of the
    first ten minutes with its reason, and one that resumed in them."""
    clock = FixedClock(at(day, 10, 10))
    market = demo_market(day, clock)
    session, client = nt(SimulatedMarketTransport(market, latency=0))
    async with session:
        feed = await client.halts()
    start, end = at(day, 10, 0).timestamp(), at(day, 10, 10).timestamp()
    first = [h for h in feed.halts if start <= h.halted_at < end]
    resumed = [h for h in first if h.resume_trade_at is not None and h.resume_trade_at <= end]
    assert first and resumed, feed.halts
    assert all(h.reason in ("T3", "LUDP", "M") for h in first)
    # Earlier in the window the news halt read T1, with no resumption yet.
    clock.at = at(day, 10, 1, 59)
    session, client = nt(SimulatedMarketTransport(market, latency=0))
    async with session:
        early = await client.halts()
    news = next(h for h in first if h.reason == "T3")
    (pending,) = [h for h in early.halts if h.key == news.key]
    assert pending.reason == "T1" and pending.resume_trade_at is None


def test_a_halted_name_stands_still_and_takes_up_its_path_after() -> None:
    clock = FixedClock(at(DAY, 16, 30))
    market = demo_market(DAY, clock)
    sim_day = market.day_for(DAY)
    halts = sim_day.halts
    assert {h.reason for h in halts} >= {"T3"} and len(halts) >= 2
    for halt in halts:
        i = market.index[halt.symbol]
        first = sim_day.minute_of(halt.halted_at)
        last = sim_day.minute_of(halt.resume_trade_at - timedelta(seconds=1))
        held = sim_day.price[i, first : last + 1]
        assert np.all(held == np.float32(halt.price)), halt
        volume = sim_day.cum_volume[i, first : last + 1]
        assert np.all(volume == volume[0])
        sec = market.securities[i]
        if halt.reason in ("LUDP", "M"):
            assert halt.reason == ("LUDP" if sec.exchange == "NASDAQ" else "M")
            assert halt.resume_trade_at - halt.halted_at >= timedelta(minutes=5)
            if halt.reason == "LUDP":
                assert halt.resume_quote_at == halt.halted_at
            # Paused at the band's edge of the 5 minutes before.
            before = sim_day.price[i, max(OPEN_MINUTE, first - 5) : first].astype(float)
            edge = max(abs(halt.price / before.min() - 1), abs(1 - halt.price / before.max()))
            assert edge >= band(sec, float(before.min())) * 0.95
        # /quote during the halt shows the held price, not the move behind it.
        clock.at = halt.halted_at + timedelta(minutes=2)
        (quote,) = quote_objects(market, [halt.symbol], halt.symbol).values()
        assert isinstance(quote, dict) and float(str(quote["close"])) == pytest.approx(
            halt.price, abs=1e-4
        )
    # The same seed and day give the same halts.
    again = demo_market(DAY, FixedClock(at(DAY, 11, 0))).halts_of(DAY)
    assert [(h.symbol, h.halted_at) for h in again] == [(h.symbol, h.halted_at) for h in halts]


@pytest.mark.anyio
async def test_the_feed_in_nasdaq_traders_wire_format() -> None:
    clock = FixedClock(at(DAY, 15, 0))
    transport = SimulatedMarketTransport(demo_market(DAY, clock), latency=0)
    async with httpx.AsyncClient(transport=transport) as session:
        response = await session.get(HALTS_URL)
    body = response.content
    assert response.status_code == 200
    assert b'<rss version="2.0" xmlns:ndaq="http://www.nasdaqtrader.com/">' in body
    assert b"<ttl>1</ttl>" in body and b"<ndaq:PauseThresholdPrice />" in body
    assert b"<pubDate>Fri, 20 Nov 2026 20:00:00 GMT</pubDate>" in body  # the channel's, EST
    assert b"<pubDate>Fri, 20 Nov 2026 05:00:00 GMT</pubDate>" in body  # midnight ET of the day
    assert b"<description><![CDATA[<table" in body
    feed = parse_halts(body)
    assert feed.skipped == 0
    count = body.count(b"<item>")
    assert f"<ndaq:numItems>{count}</ndaq:numItems>".encode() in body
    assert feed.generated_at == clock.at.timestamp()
    # Newest first, and years-old unresolved halts at the end, one from 2019.
    assert feed.halts[-1].halt_day.year == 2019 and feed.halts[-1].resume_trade_at is None
    assert all(h.halted_at <= clock.at.timestamp() for h in feed.halts)
    today = [h for h in feed.halts if h.halt_day == DAY]
    assert today and all(math.modf(h.halted_at)[0] > 0 for h in today)  # .fff milliseconds


@pytest.mark.anyio
async def test_the_rule_201_list_from_the_first_minute() -> None:
    clock = FixedClock(at(DAY, 10, 0))
    market = demo_market(DAY, clock)
    session, client = nt(SimulatedMarketTransport(market, latency=0))
    async with session:
        ssr = await client.ssr_list(DAY)
        with pytest.raises(SsrListMissing):
            await client.ssr_list(date(2026, 11, 21))  # a Saturday
        with pytest.raises(SsrListMissing):
            await client.ssr_list(date(2026, 11, 23))  # a day to come
    before = mh.previous_trading_day(DAY)
    assert ssr.complete and ssr.skipped == 0
    days = {r.trigger_day for r in ssr.restrictions}
    assert before in days and days <= {before, DAY}
    # Each trigger is a fall of 10 % below the previous close, at its time.
    sim_day, previous = market.day_for(DAY), market.session_before(DAY)
    for r in ssr.restrictions:
        i = market.index[r.symbol]
        assert r.triggered_at is not None and r.triggered_at <= clock.at.timestamp()
        if r.trigger_day == DAY:
            minute = sim_day.minute_of(datetime.fromtimestamp(r.triggered_at, mh.ET))
            assert sim_day.price[i, minute] <= 0.9 * sim_day.prev_close[i] + 1e-6
        else:
            assert previous.fall_minutes()[i] >= OPEN_MINUTE


FAULTS = ("halts_empty", "halts_malformed", "halts_prev_day", "halts_repeat", "halts_stale")


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.anyio
async def test_every_halts_fault_through_the_client(fault: str) -> None:
    clock = FixedClock(at(DAY, 10, 15))  # the 10:01 news halt within the last 30 minutes
    market = demo_market(DAY, clock)
    session, client = nt(SimulatedMarketTransport(market, latency=0))
    async with session:
        clean = await client.halts()
    faulty = SimulatedMarketTransport(market, latency=0, faults=FaultPlan.parse(f"{fault}=1"))
    async with httpx.AsyncClient(transport=faulty) as session:
        raw = (await session.get(HALTS_URL)).content
    feed = parse_halts(raw)
    assert faulty.server.injected == {fault: 1}
    todays = [h for h in clean.halts if h.halt_day == DAY]
    assert todays
    if fault == "halts_empty":
        assert feed.halts == [] and b"<ndaq:numItems>0</ndaq:numItems>" in raw
    elif fault == "halts_malformed":
        assert feed.skipped == 1 and len(feed.halts) == len(clean.halts) - 1
    elif fault == "halts_prev_day":
        before = mh.previous_trading_day(DAY)
        assert not any(h.halt_day == DAY for h in feed.halts)
        assert sum(h.halt_day == before for h in feed.halts) == len(todays)
    elif fault == "halts_repeat":
        assert raw.count(b"<item>") == len(clean.halts) + 1
        assert feed.halts == clean.halts  # the repeat is one halt
    else:
        stale = clock.at - timedelta(minutes=30)
        assert feed.generated_at == stale.timestamp()
        assert all(h.halted_at <= stale.timestamp() for h in feed.halts)
        assert len(feed.halts) < len(clean.halts)


@pytest.mark.anyio
async def test_ssr_html_fault_is_a_missing_list() -> None:
    market = demo_market(DAY, FixedClock(at(DAY, 11, 0)))
    faulty = SimulatedMarketTransport(market, latency=0, faults=FaultPlan.parse("ssr_html=1"))
    session, client = nt(faulty)
    async with session:
        with pytest.raises(SsrListMissing, match="web page"):
            await client.ssr_list(DAY)
    assert faulty.server.injected == {"ssr_html": 1}


@pytest.mark.anyio
async def test_a_past_days_halts_and_a_weekend() -> None:
    clock = FixedClock(at(DAY, 9, 0))
    market = SimMarket(DEMO_SEED, 0, clock, start_day=mh.previous_trading_day(DAY))
    session, client = nt(SimulatedMarketTransport(market, latency=0))
    async with session:
        yesterday = await client.halts(mh.previous_trading_day(DAY))
        saturday = await client.halts(date(2026, 11, 21))
        now = await client.halts()
    assert yesterday.halts and {h.halt_day for h in yesterday.halts} == {date(2026, 11, 19)}
    assert all(h.resume_trade_at is not None for h in yesterday.halts)  # all resolved
    assert saturday.halts == []
    # Before today's first halt: only the old unresolved ones.
    assert [h.halt_day.year for h in now.halts] == [2022, 2019]


@pytest.mark.anyio
async def test_the_feeds_over_a_real_socket_faults_included() -> None:
    clock = FixedClock(at(DAY, 12, 0))
    plan = FaultPlan.parse("halts_repeat=0.5,halts_malformed=0.5,ssr_html=1")
    with ProviderServer(clock=clock, faults=plan) as server:
        async with httpx.AsyncClient(timeout=10) as session:
            client = NasdaqTraderClient(
                session,
                halts_url=f"{server.url}/rss.aspx?feed=tradehalts",
                ssr_url=f"{server.url}/dynamic/symdir/shorthalts/",
            )
            feeds = [await client.halts() for _ in range(6)]
            with pytest.raises(SourceError, match="web page"):
                await client.ssr_list(DAY)
        with ProviderServer(clock=clock) as plain:
            async with httpx.AsyncClient(timeout=10) as session:
                client = NasdaqTraderClient(
                    session,
                    halts_url=f"{plain.url}/rss.aspx?feed=tradehalts",
                    ssr_url=f"{plain.url}/dynamic/symdir/shorthalts/",
                )
                clean = await client.halts()
                ssr = await client.ssr_list(DAY)
    injected = server.sim.injected
    assert injected["halts_repeat"] + injected["halts_malformed"] == 6
    assert sum(f.skipped for f in feeds) == injected["halts_malformed"]
    for feed in feeds:
        # A repeat is one halt; a malformed item is the only one missing.
        assert len(feed.halts) == len(clean.halts) - feed.skipped
    assert any(h.halt_day == DAY for h in clean.halts)
    assert ssr.complete and ssr.restrictions
