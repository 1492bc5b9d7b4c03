"""The optional news provider: Finnhub's company news through respx (the shape parsed and
cleaned, the key in the header and never in the URL or a message, 401/403/429, a bad article
skipped, the client's own pace), and the news step storing an article as a NEWS filing that
the rows and cards read like any other."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import respx

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.clock import FixedClock
from momoscan.config import Settings, load_settings
from momoscan.engine.context import RefreshReport, StepContext
from momoscan.engine.news import NewsStep
from momoscan.engine.store_thread import StoreThread
from momoscan.filings import catalyst_text, label
from momoscan.models import Ticker
from momoscan.sources.errors import AuthError, MalformedResponse, RateLimited, ServiceError
from momoscan.sources.news import FinnhubNews, parse_company_news
from momoscan.store import Store

KEY = "sk_live_d3adb33fk3y"
BASE = "https://news.test/api/v1"
DAY = date(2026, 11, 20)


def et(hh: int, mm: int) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=mh.ET)


def article(
    ident: int, at: datetime, headline: str = "AAA wins a contract", **extra: object
) -> dict[str, object]:
    return {
        "category": "company",
        "datetime": int(at.timestamp()),
        "headline": headline,
        "id": ident,
        "image": "",
        "related": "AAA",
        "source": "Wire",
        "summary": "",
        "url": f"https://example.test/{ident}",
        **extra,
    }


class Fake:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _no_sleep(_: float) -> None:
    return None


def client(http: httpx.AsyncClient, clock: Fake | None = None, per_minute: int = 60) -> FinnhubNews:
    return FinnhubNews(
        http,
        api_key=KEY,
        base_url=BASE,
        per_minute=per_minute,
        clock=clock or Fake(),
        sleep=_no_sleep,
    )


def test_parse_cleans_sorts_and_skips_bad_articles() -> None:
    body = json.dumps(
        [
            article(1, et(9, 0), "Old \x1b[31mnews\x1b[0m\u202e"),
            article(2, et(9, 30), "  New\nnews  "),
            {"id": "x", "datetime": 1, "headline": "bad id"},
            article(3, et(9, 10), ""),  # no headline
            article(4, et(9, 10), url="javascript:alert(1)"),
            "not an object",
            {**article(5, et(9, 5)), "datetime": None},
        ]
    ).encode()
    page = parse_company_news(body, "AAA")
    assert [i.id for i in page.items] == [2, 4, 1]
    assert page.skipped == 4
    assert page.items[0].headline == "New news"
    assert "\x1b" not in page.items[2].headline and "\u202e" not in page.items[2].headline
    assert page.items[1].url == ""  # only http(s) links are kept
    f = page.items[0].filing()
    assert (f.accession, f.form, f.kind, f.items, f.symbol, f.company, f.cik) == (
        "finnhub:2",
        "NEWS",
        "news",
        (),
        "AAA",
        "New news",
        0,
    )
    assert f.accepted_at == et(9, 30).timestamp()
    assert label(f) == "NEWS"
    assert catalyst_text(f, et(9, 44).timestamp()) == "NEWS · 14m"


def test_parse_refuses_what_is_not_a_list() -> None:
    with pytest.raises(MalformedResponse):
        parse_company_news(b"<html>", "AAA")
    with pytest.raises(MalformedResponse):
        parse_company_news(b'{"data": []}', "AAA")


@pytest.mark.anyio
async def test_key_goes_in_the_header_never_the_url() -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/company-news").respond(200, json=[article(7, et(9, 0))])
        async with httpx.AsyncClient() as http:
            page = await client(http).company_news("AAA", DAY, DAY)
    assert [i.id for i in page.items] == [7]
    request = route.calls.last.request
    assert request.headers["X-Finnhub-Token"] == KEY
    assert KEY not in str(request.url)
    assert dict(request.url.params) == {"symbol": "AAA", "from": "2026-11-20", "to": "2026-11-20"}


@pytest.mark.anyio
@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_key_is_said_without_the_key(status: int) -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/company-news").respond(status, json={"error": f"Invalid API key {KEY}"})
        async with httpx.AsyncClient() as http:
            with pytest.raises(AuthError) as caught:
                await client(http).company_news("AAA", DAY, DAY)
    assert "Finnhub news" in str(caught.value) and "refused" in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.anyio
async def test_an_echoed_key_in_an_error_object_is_taken_out() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/company-news").respond(200, json={"error": f"bad token {KEY}"})
        async with httpx.AsyncClient() as http:
            with pytest.raises(Exception) as caught:
                await client(http).company_news("AAA", DAY, DAY)
    assert "bad token" in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.anyio
async def test_server_errors_after_retries_do_not_name_the_key() -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/company-news").respond(502)
        async with httpx.AsyncClient() as http:
            with pytest.raises(ServiceError) as caught:
                await client(http).company_news("AAA", DAY, DAY)
    assert route.call_count == 3
    assert "Finnhub news for AAA" in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.anyio
async def test_429_backs_off_for_retry_after_without_sending() -> None:
    clock = Fake()
    with respx.mock() as router:
        route = router.get(f"{BASE}/company-news")
        route.side_effect = [
            httpx.Response(429, headers={"Retry-After": "30"}),
            httpx.Response(200, json=[]),
        ]
        async with httpx.AsyncClient() as http:
            news = client(http, clock)
            with pytest.raises(RateLimited) as caught:
                await news.company_news("AAA", DAY, DAY)
            assert "429" in str(caught.value) and KEY not in str(caught.value)
            clock.now += 29
            with pytest.raises(RateLimited):
                await news.company_news("AAA", DAY, DAY)
            assert route.call_count == 1  # nothing sent while backing off
            clock.now += 2
            page = await news.company_news("AAA", DAY, DAY)
    assert page.items == [] and route.call_count == 2


@pytest.mark.anyio
async def test_the_client_sends_at_most_its_pace_a_minute() -> None:
    clock = Fake()
    with respx.mock() as router:
        route = router.get(f"{BASE}/company-news").respond(200, json=[])
        async with httpx.AsyncClient() as http:
            news = client(http, clock, per_minute=3)
            for _ in range(3):
                await news.company_news("AAA", DAY, DAY)
                clock.now += 1
            with pytest.raises(RateLimited):
                await news.company_news("AAA", DAY, DAY)
            assert route.call_count == 3
            clock.now += 58  # the first request leaves the window
            await news.company_news("AAA", DAY, DAY)
    assert route.call_count == 4


def test_news_settings_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[news]\nprovider = "finnhub"\napi_key = "fromfile"\n')
    settings = load_settings(str(path), {})
    assert settings.news.provider == "finnhub" and settings.news.api_key == "fromfile"
    assert settings.news.poll_seconds == 300.0
    assert settings.news.base_url == "https://finnhub.io/api/v1"
    settings = load_settings(str(path), {"FINNHUB_API_KEY": KEY})
    assert settings.news.api_key == KEY and KEY in settings.secrets
    assert KEY not in repr(settings.news)


@pytest.mark.anyio
async def test_the_step_stores_a_news_filing_for_a_name_and_a_failure_costs_it_only(
    tmp_path: Path,
) -> None:
    clock = FixedClock(et(9, 44))
    wall = Fake()
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    try:
        tickers = [Ticker(s, s, "NYSE", "XNYS", "small") for s in ("AAA", "BBB")]
        await store.call(Store.replace_universe, tickers, source="t", as_of=DAY, fetched_at=0.0)
        ctx = StepContext(Settings(), store, clock, "live", wall, watchlist=["AAA", "BBB"])
        with respx.mock() as router:
            route = router.get(f"{BASE}/company-news")
            route.side_effect = lambda request: httpx.Response(
                200,
                json=[article(11, et(9, 30))] if request.url.params["symbol"] == "AAA" else [],
            )
            async with httpx.AsyncClient() as http:
                step = NewsStep(ctx, client(http), poll_seconds=300.0)
                report = RefreshReport(run_id=1)
                assert await step.run(report) == 1
                assert not report.failures and route.call_count == 2
                assert await step.run(report) == 0  # not due again yet
                assert route.call_count == 2
                # A refused key: one line, the poll stops, nothing else is lost.
                wall.now += 300
                route.side_effect = None
                route.return_value = httpx.Response(401)
                report = RefreshReport(run_id=2)
                assert await step.run(report) == 0
                assert route.call_count == 3
                assert len(report.failures) == 1 and report.failures[0].side
                assert report.errors == 0 and KEY not in report.failures[0].message
        shown = await store.call(queries.filings_on, DAY)
        assert list(shown) == ["AAA"]
        (news,) = shown["AAA"]
        assert (news.form, news.accession, news.company) == (
            "NEWS",
            "finnhub:11",
            "AAA wins a contract",
        )
        assert catalyst_text(news, clock.now().timestamp()) == "NEWS · 14m"
    finally:
        await store.close()


@pytest.mark.anyio
async def test_the_step_is_off_without_a_client_and_outside_the_day(tmp_path: Path) -> None:
    clock = FixedClock(et(21, 0))
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    try:
        ctx = StepContext(Settings(), store, clock, "live", Fake(), watchlist=["AAA"])
        assert await NewsStep(ctx, None, poll_seconds=300.0).run(RefreshReport(run_id=1)) == 0
        with respx.mock(assert_all_called=False) as router:
            route = router.get(f"{BASE}/company-news").respond(200, json=[])
            async with httpx.AsyncClient() as http:
                step = NewsStep(ctx, client(http), poll_seconds=300.0)
                assert await step.run(RefreshReport(run_id=1)) == 0
        assert route.call_count == 0 and step.polls == 0
    finally:
        await store.close()
