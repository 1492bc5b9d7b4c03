"""The simulated SEC: its ticker map and current-filings feed in EDGAR's wire format (faults
included), read back by the real client through the transport and over a real 127.0.0.1
socket, and the demo end to end: a filing before a planted story lands in the store."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast

import httpx
import pytest
import respx

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.check import Probe, probe_sec, run_checks
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.engine.context import RefreshReport, StepContext
from momoscan.engine.filings import FilingsStep
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.faults import FaultPlan
from momoscan.simulated.http_server import ProviderServer
from momoscan.simulated.market import OPEN_MINUTE, SimMarket
from momoscan.simulated.sec import company_ciks, filings_of, planted_filings
from momoscan.simulated.transport import SimulatedMarketTransport
from momoscan.sources.errors import MalformedResponse, ServiceError
from momoscan.sources.sec import (
    DEMO_USER_AGENT,
    SecBlocked,
    SecClient,
    SecHttp,
    merge_entries,
    parse_current,
)
from momoscan.store import Store

DEMO_SEED = 7  # [demo] seed's default
DAY = date(2026, 11, 20)  # a Friday, EST
SUMMER = date(2026, 7, 15)  # a Wednesday, EDT
TICKERS_URL = "https://www.sec.gov/files/company_tickers_exchange.json"
CURRENT_URL = "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent"


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=mh.ET)


def demo_market(day: date, clock: FixedClock) -> SimMarket:
    return SimMarket(DEMO_SEED, 0, clock, start_day=day)


async def no_wait(_seconds: float) -> None:
    return None


def sec_client(
    transport: httpx.AsyncBaseTransport, *, agent: str = DEMO_USER_AGENT, base: str = ""
) -> tuple[httpx.AsyncClient, SecClient]:
    session = httpx.AsyncClient(transport=transport)
    sec = SecHttp(session, user_agent=agent, sleep=no_wait)
    tickers = f"{base}/files/company_tickers_exchange.json" if base else TICKERS_URL
    current = f"{base}/cgi-bin/browse-edgar?action=getcurrent" if base else CURRENT_URL
    return session, SecClient(sec, tickers_url=tickers, current_url=current)


@pytest.mark.parametrize("day", [DAY, SUMMER, date(2026, 11, 16)])
@pytest.mark.anyio
async def test_the_demo_shows_a_filing_before_its_first_story(day: date) -> None:
    """[demo] start 10:00 with the demo's seed: the first read of the feed holds an 8-K on
    the day's first news story's name, accepted a few minutes before its move."""
    clock = FixedClock(at(day, 10, 0))
    market = demo_market(day, clock)
    session, client = sec_client(SimulatedMarketTransport(market, latency=0))
    async with session:
        rows = await client.ticker_map()
        page = await client.current_filings()
    ciks = {ticker: cik for cik, ticker, _, _ in rows}
    opener = next(p for p in market.planted(day) if p.start == at(day, 10, 2))
    (planted,) = [f for f in planted_filings(market, day) if f.symbol == opener.symbol]
    assert planted.form == "8-K" and planted.story == "news" and planted.accepted_at < opener.start
    mine = [f for f in page.filings if f.cik == ciks[opener.symbol]]
    assert [f.accepted_at for f in mine] == [planted.accepted_at.timestamp()]
    assert mine[0].kind in ("results", "news", "material") and "9.01" in mine[0].items
    assert at(day, 9, 55).timestamp() <= mine[0].accepted_at <= at(day, 10, 0).timestamp()


def test_filings_come_before_some_stories_not_all_and_on_quiet_names_too() -> None:
    clock = FixedClock(at(DAY, 16, 0))
    market = demo_market(DAY, clock)
    stories, planted, quiet_8k = 0, 0, 0
    for k in range(10):
        day = DAY - timedelta(days=k)
        if day.weekday() >= 5:
            continue
        movers = market.planted(day)
        catalysts = planted_filings(market, day)
        for f in catalysts:
            story = next(p for p in movers if p.symbol == f.symbol and p.kind == f.story)
            assert timedelta(0) < story.start - f.accepted_at <= timedelta(minutes=8)
        stories += sum(1 for p in movers if p.kind in ("news", "gapper", "runner", "faller"))
        planted += len(catalysts)
        moving = {p.symbol for p in movers}
        quiet_8k += sum(
            1
            for f in filings_of(market, day)
            if f.form.startswith("8-K") and f.symbol and f.symbol not in moving
        )
    assert 0 < planted < stories
    assert quiet_8k >= 20  # 8-Ks on names that do not move: a filing is no promise


def test_ciks_are_stable_and_unique_for_a_seed() -> None:
    clock = FixedClock(at(DAY, 10, 0))
    first = company_ciks(demo_market(DAY, clock))
    again = company_ciks(demo_market(DAY, clock))
    other = company_ciks(SimMarket(DEMO_SEED + 1, 0, clock, start_day=DAY))
    assert first == again and len(set(first.values())) == len(first)
    assert first != other


@pytest.mark.anyio
async def test_the_feed_in_edgars_wire_format() -> None:
    clock = FixedClock(at(DAY, 17, 0))
    market = demo_market(DAY, clock)
    transport = SimulatedMarketTransport(market, latency=0)
    headers = {"User-Agent": DEMO_USER_AGENT}
    async with httpx.AsyncClient(transport=transport, headers=headers) as session:
        first = await session.get(
            CURRENT_URL, params={"action": "getcurrent", "count": "100", "output": "atom"}
        )
        assert first.headers["content-type"] == "application/atom+xml"
        assert first.content.startswith(b'<?xml version="1.0" encoding="ISO-8859-1" ?>')
        assert b"&lt;b&gt;AccNo:&lt;/b&gt;" in first.content
        pages = [first.content]
        start = 100
        while True:
            page = await session.get(
                CURRENT_URL, params={"action": "getcurrent", "count": "100", "start": str(start)}
            )
            pages.append(page.content)
            if page.content.count(b"<entry>") < 100:
                break
            start += 100
        deep = await session.get(CURRENT_URL, params={"action": "getcurrent", "start": "5100"})
        only4 = await session.get(
            CURRENT_URL, params={"action": "getcurrent", "type": "8-K", "count": "100"}
        )
        no4 = await session.get(
            CURRENT_URL, params={"action": "getcurrent", "owner": "exclude", "count": "100"}
        )
    assert deep.status_code == 503 and b"File Unavailable" in deep.content
    body = b"".join(pages)
    assert "Café Lumière".encode("latin-1") in body and b"Alpha - Omega Acquisition" in body
    entries = [e for page in pages for e in parse_current(page).entries]
    assert not any(parse_current(page).skipped for page in pages)
    times = [e.filing.accepted_at for e in entries]
    assert times == sorted(times, reverse=True)  # newest first, across pages
    roles: dict[str, set[str]] = {}
    for e in entries:
        roles.setdefault(e.filing.accession, set()).add(e.role)
    forms = {e.filing.accession: e.filing.form for e in entries}
    assert all(roles[a] == {"Reporting", "Issuer"} for a, f in forms.items() if f == "4")
    assert any(r == {"Subject", "Filed by"} for r in roles.values())
    merged = merge_entries(entries)
    assert len(merged) == len(roles) < len(entries)
    assert {e.filing.form for e in parse_current(only4.content).entries} <= {"8-K", "8-K/A"}
    assert all(e.filing.form != "4" for e in parse_current(no4.content).entries)


@pytest.mark.anyio
@pytest.mark.parametrize("agent", ["", "python-httpx/0.28.1", "python-requests/2.32"])
async def test_an_undeclared_request_is_refused_always(agent: str) -> None:
    clock = FixedClock(at(DAY, 10, 30))
    transport = SimulatedMarketTransport(demo_market(DAY, clock), latency=0)
    request = httpx.Request("GET", TICKERS_URL, headers={"User-Agent": agent})
    if not agent:
        del request.headers["User-Agent"]
    response = await transport.handle_async_request(request)
    await response.aread()
    assert response.status_code == 403
    assert b"declare your traffic" in response.content


@pytest.mark.anyio
async def test_every_sec_fault_through_the_client() -> None:
    clock = FixedClock(at(DAY, 10, 30))
    market = demo_market(DAY, clock)

    def faulty(spec: str) -> tuple[httpx.AsyncClient, SecClient]:
        return sec_client(SimulatedMarketTransport(market, latency=0, faults=FaultPlan.parse(spec)))

    session, client = faulty("sec_no_ua=1")
    async with session:
        with pytest.raises(SecBlocked) as blocked:
            await client.ticker_map()
    assert blocked.value.status == 403 and blocked.value.retry_after >= 600
    session, client = faulty("sec_429=1")
    async with session:
        with pytest.raises(SecBlocked) as limited:
            await client.current_filings()
        with pytest.raises(SecBlocked):
            await client.ticker_map()  # backed off: not even asked
    assert limited.value.status == 429 and limited.value.retry_after >= 600
    assert client.sec.requests == 1
    session, client = faulty("sec_truncated=1")
    async with session:
        with pytest.raises(MalformedResponse, match="not whole JSON"):
            await client.ticker_map()
        assert (await client.current_filings()).filings  # the feed is never cut
    session, client = faulty("sec_503=1")
    async with session:
        with pytest.raises(ServiceError, match="503"):
            await client.current_filings()


@pytest.mark.anyio
async def test_the_sec_over_a_real_socket() -> None:
    clock = FixedClock(at(DAY, 12, 0))
    with ProviderServer(clock=clock) as server:
        session, client = sec_client(httpx.AsyncHTTPTransport(), base=server.url)
        async with session:
            rows = await client.ticker_map()
            page = await client.current_filings()
            bare = await session.get(f"{server.url}/files/company_tickers_exchange.json")
    assert len(rows) > 500 and page.filings and page.pages >= 1
    assert bare.status_code == 403  # httpx's default User-Agent is a library's


# -- the step and the demo -------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_a_user_agent_the_step_says_so_once_and_sends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    step = FilingsStep(
        cast(StepContext, None), None, poll_seconds=60, off_reason="set [sec] user_agent"
    )
    with caplog.at_level(logging.WARNING, logger="momoscan.engine.filings"):
        for _ in range(3):
            await step.run(RefreshReport(run_id=0))
        await step.watch()  # returns at once
    assert [r.getMessage() for r in caplog.records] == ["set [sec] user_agent"]
    assert step.polls == 0


def options(db: Path, faults: str | None = None, start: datetime | None = None) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=start or at(DAY, 10, 0),
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        demo_faults=faults,
    )


@pytest.mark.anyio
async def test_the_demo_stores_a_filing_on_its_first_movers_name(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    settings = Settings()
    settings.options.enabled = False
    async with open_runtime(settings, options(db)) as rt:
        report = await rt.engine.refresh()
        market = cast(SimMarket, rt.market)
    assert report.status == "ok", report.lines()
    opener = next(p for p in market.planted(DAY) if p.start == at(DAY, 10, 2))
    with Store(db) as store:
        day = queries.filings_on(store, DAY)
        assert store.sec_tickers_fetched_at() is not None
        universe = set(queries.cik_map(store))
    assert opener.symbol in day
    (mark,) = day[opener.symbol]
    assert mark.form == "8-K" and mark.accepted_at < opener.start.timestamp()
    assert set(day) <= universe  # universe companies only, never the outsiders
    assert not any(f.company.startswith("Alpha - Omega") for fs in day.values() for f in fs)


@pytest.mark.anyio
async def test_a_429_costs_the_filings_step_only(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    settings = Settings()
    settings.options.enabled = False
    async with open_runtime(settings, options(db, faults="sec_429=1")) as rt:
        report = await rt.engine.refresh()
    assert report.status == "partial" and report.quotes == report.symbols > 400
    (failure,) = [f for f in report.failures if f.source == "SEC EDGAR"]
    assert failure.side and "429" in failure.message
    assert failure.item == "ticker map"  # the first request; nothing more was asked


def test_the_market_opens_after_the_first_filings() -> None:
    """Filings spread over EDGAR's hours: some before the open, some after."""
    market = demo_market(DAY, FixedClock(at(DAY, 18, 0)))
    minutes = [
        (f.accepted_at - at(DAY, 4, 0)).total_seconds() / 60 for f in filings_of(market, DAY)
    ]
    assert min(minutes) >= 120 and max(minutes) < 960
    assert any(m < OPEN_MINUTE for m in minutes) and any(m > OPEN_MINUTE for m in minutes)


# -- momoscan check --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_check_says_whether_the_user_agent_is_accepted() -> None:
    clock = FixedClock(at(DAY, 11, 0))
    market = demo_market(DAY, clock)
    good = await probe_sec_via(SimulatedMarketTransport(market, latency=0), clock)
    assert good.ok and good.reached
    assert good.detail.startswith(
        "SEC EDGAR: User-Agent accepted (the simulated market's own: set [sec] user_agent "
        "for live). Ticker map: 638 tickers"
    )
    assert good.data_age_seconds is not None and good.data_age_seconds < 3600
    plan = FaultPlan.parse("sec_no_ua=1")
    refused = await probe_sec_via(SimulatedMarketTransport(market, latency=0, faults=plan), clock)
    assert not refused.ok and refused.reached
    assert refused.detail.startswith("SEC EDGAR: User-Agent refused (403): set [sec] user_agent")


@pytest.mark.anyio
async def test_check_without_a_user_agent_asks_nothing() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.route(host="www.sec.gov").respond(200)
        async with httpx.AsyncClient() as http:
            probe = await probe_sec(http, Settings(), demo=False, now=0.0)
    assert probe.configured is False and route.call_count == 0
    assert '[sec] user_agent = "Your Name you@example.com"' in probe.detail


async def probe_sec_via(transport: httpx.AsyncBaseTransport, clock: FixedClock) -> Probe:
    probes = await run_checks(Settings(), transport=transport, clock=clock, api_key="demo")
    (probe,) = [p for p in probes if p.source == "SEC EDGAR"]
    return probe
