"""Nasdaq Trader's halts RSS and Rule 201 list: the parsers and the client.

The fixtures (tests/fixtures/nasdaqtrader/) are hand-written in the recorded feeds' shape
(namespace URI, self-closed empty fields, ttl 1, numItems, the CDATA table, CRLF in one) with
invented symbols and names; `shorthalts_missing_day.html` imitates a "page not found" page, its
wording invented.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import respx

from momoscan import market_hours as mh
from momoscan.sources.errors import MalformedResponse, RateLimited, ServiceError, SourceError
from momoscan.sources.nasdaqtrader import (
    NasdaqTraderClient,
    SsrListMissing,
    parse_halts,
    parse_ssr,
)

FIXTURES = Path(__file__).parent / "fixtures" / "nasdaqtrader"
HALTS_URL = "https://www.nasdaqtrader.com/rss.aspx?feed=tradehalts"
SSR_URL = "https://www.nasdaqtrader.com/dynamic/symdir/shorthalts/"
DAY = date(2026, 11, 17)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def et(day: date, hh: int, mm: int, ss: int, micro: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, ss, micro, tzinfo=mh.ET).timestamp()


def client(http_client: httpx.AsyncClient) -> NasdaqTraderClient:
    return NasdaqTraderClient(http_client, halts_url=HALTS_URL, ssr_url=SSR_URL)


# ------------------------------------------------------------------------------------ halts


def test_halts_feed_read_in_et_newest_first() -> None:
    feed = parse_halts(fixture("tradehalts_intraday.xml"))
    assert feed.generated_at == datetime(2026, 11, 17, 19, 21, 37, tzinfo=UTC).timestamp()
    assert feed.skipped == 0
    assert [h.symbol for h in feed.halts] == [
        "ZNTQ", "KVRA", "PLXO", "KVRA", "BRQ=", "WDGT", "MWX", "DLTQ", "OLDN", "SNVX"
    ]  # fmt: skip
    assert [h.halted_at for h in feed.halts] == sorted(
        (h.halted_at for h in feed.halts), reverse=True
    )
    by = {(h.symbol, h.halted_at): h for h in feed.halts}
    # An LULD pause: quotes at once, trading five minutes on; the milliseconds kept.
    luld = by[("KVRA", et(DAY, 14, 2, 11, 417000))]
    assert luld.reason == "LUDP" and luld.market == "NASDAQ"
    assert luld.name == "Kavora Therapeutics Cmn" and luld.halt_day == DAY
    assert luld.resume_quote_at == et(DAY, 14, 2, 11)
    assert luld.resume_trade_at == et(DAY, 14, 7, 11)
    assert luld.halted(et(DAY, 14, 5, 0)) and not luld.halted(et(DAY, 14, 7, 11))
    # "HH:MM:SS .fff": the same symbol halted twice in a day is two halts.
    assert by[("KVRA", et(DAY, 11, 12, 9, 540000))].resume_trade_at == et(DAY, 11, 22, 10)
    # 14:02 EST is 19:02 UTC.
    assert luld.halted_at == datetime(2026, 11, 17, 19, 2, 11, 417000, tzinfo=UTC).timestamp()


def test_halts_empty_fields_unknown_codes_deletions_and_old_halts() -> None:
    by = {h.symbol: h for h in parse_halts(fixture("tradehalts_intraday.xml")).halts}
    # An evening news halt: open, nothing to resume yet.
    assert by["ZNTQ"].reason == "T1" and by["ZNTQ"].resume_trade_at is None
    assert by["ZNTQ"].halted_at == et(DAY, 19, 50, 0)
    assert by["BRQ="].name == "" and by["BRQ="].reason == "M"
    assert by["BRQ="].resume_quote_at == by["BRQ="].resume_trade_at == et(DAY, 10, 36, 50)
    # An unknown code is kept as sent; a threshold price when the feed gives one.
    assert by["WDGT"].reason == "XYZ9" and by["WDGT"].threshold == 4.125
    assert by["MWX"].market_wide and by["MWX"].market == "AMEX"
    # A deletion's 00:00:01 "resumption" is none.
    deleted = by["DLTQ"]
    assert deleted.reason == "D" and deleted.resume_trade_at is None
    assert deleted.resume_quote_at is None and deleted.halt_day == date(2026, 11, 13)
    # Years-old unresolved halts stay, in EDT where it applied.
    assert by["SNVX"].halt_day == date(2019, 5, 6)
    assert by["SNVX"].halted_at == datetime(2019, 5, 6, 16, 0, 7, tzinfo=UTC).timestamp()
    assert by["OLDN"].reason == "H10" and by["OLDN"].resume_trade_at is None


def test_halts_repeated_malformed_and_hostile_items(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="momoscan.sources.nasdaqtrader"):
        feed = parse_halts(fixture("tradehalts_faulty_crlf.xml"))
    # Missing time, a 25:99 time and a 13/45 date: skipped, counted, logged once.
    assert feed.skipped == 3
    assert [r.getMessage() for r in caplog.records] == [
        "Nasdaq Trader halts: skipped 3 malformed item(s)."
    ]
    assert [h.symbol for h in feed.halts] == ["ABCX", "EVIL"]  # the repeat is one halt
    july = date(2026, 7, 15)
    assert feed.halts[0].halted_at == datetime(2026, 7, 15, 14, 5, 33, tzinfo=UTC).timestamp()
    assert feed.halts[0].halt_day == july
    # Outside text is cleaned where it is read.
    assert feed.halts[1].name == "Evil Corp"  # a bidi override and an 8-bit CSI gone


def test_a_repeat_that_says_more_wins() -> None:
    body = fixture("tradehalts_faulty_crlf.xml").replace(
        b"<ndaq:ResumptionTradeTime>10:10:33</ndaq:ResumptionTradeTime>",
        b"<ndaq:ResumptionTradeTime />",
        1,
    )
    (abcx,) = [h for h in parse_halts(body).halts if h.symbol == "ABCX"]
    assert abcx.resume_trade_at == et(date(2026, 7, 15), 10, 10, 33)


def test_the_namespace_is_read_by_uri_not_prefix() -> None:
    body = (
        fixture("tradehalts_intraday.xml")
        .replace(b"ndaq:", b"nq:")
        .replace(b"xmlns:ndaq=", b"xmlns:nq=")
    )
    assert len(parse_halts(body).halts) == 10
    wrong = fixture("tradehalts_intraday.xml").replace(
        b'xmlns:ndaq="http://www.nasdaqtrader.com/"', b'xmlns:ndaq="urn:nasdaq"'
    )
    feed = parse_halts(wrong)
    assert feed.halts == [] and feed.skipped == 10


def test_an_empty_channel_is_a_feed_without_halts() -> None:
    feed = parse_halts(fixture("tradehalts_empty_weekend.xml"))
    assert feed.halts == [] and feed.skipped == 0
    assert feed.generated_at == datetime(2026, 11, 21, 15, 0, 2, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (fixture("shorthalts_missing_day.html"), "web page (Nasdaq Trader - Page Not Found)"),
        (b'{"halts": []}', "not readable XML"),
        (b"<rss version='2.0'><channel><item>", "not readable XML"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "not the RSS channel"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss/>', "DTD"),
    ],
)
def test_what_is_not_the_feed_is_a_clear_error(body: bytes, words: str) -> None:
    with pytest.raises(MalformedResponse, match=r"^Nasdaq Trader halts: ") as caught:
        parse_halts(body)
    assert words in str(caught.value)


def test_a_missing_channel_date_is_none() -> None:
    body = fixture("tradehalts_empty_weekend.xml").replace(
        b"<pubDate>Sat, 21 Nov 2026 15:00:02 GMT</pubDate>", b"<pubDate>soon</pubDate>"
    )
    assert parse_halts(body).generated_at is None


# -------------------------------------------------------------------------------------- SSR


def test_ssr_list_with_its_trailer() -> None:
    ssr = parse_ssr(fixture("shorthalts20261117.txt"), DAY)
    assert ssr.day == DAY and ssr.complete and ssr.skipped == 2
    got = [(r.symbol, r.trigger_day, r.triggered_at) for r in ssr.restrictions]
    yesterday = date(2026, 11, 16)
    assert got == [
        ("KVRA", yesterday, et(yesterday, 15, 12, 45)),
        ("PLXO", yesterday, et(yesterday, 9, 30, 1)),
        ("WDGT", DAY, et(DAY, 9, 30, 0)),
        ("BRQ", DAY, et(DAY, 11, 4, 9)),
        ("KVRA", DAY, et(DAY, 14, 2, 11)),
    ]
    assert all(r.source == "list" for r in ssr.restrictions)
    assert ssr.restrictions[0].name == "Kavora Therapeutics, Inc. Common Stock"


def test_ssr_list_without_its_trailer_is_incomplete() -> None:
    ssr = parse_ssr(fixture("shorthalts20261117_partial_crlf.txt"), DAY)
    assert not ssr.complete and [r.symbol for r in ssr.restrictions] == ["WDGT"]


def test_ssr_list_refusals() -> None:
    with pytest.raises(SsrListMissing, match="2026-11-17: a web page"):
        parse_ssr(fixture("shorthalts_missing_day.html"), DAY)
    with pytest.raises(MalformedResponse, match="empty"):
        parse_ssr(b"", DAY)
    with pytest.raises(MalformedResponse, match="not the expected CSV"):
        parse_ssr(b"Symbol|Security Name|Market Category|Trigger Time\nA|B|Q|x\n", DAY)


# ----------------------------------------------------------------------------------- client


@pytest.mark.anyio
async def test_client_asks_the_documented_urls() -> None:
    with respx.mock(assert_all_called=True) as router:
        feed_route = router.get("https://www.nasdaqtrader.com/rss.aspx").respond(
            200, content=fixture("tradehalts_intraday.xml")
        )
        ssr_route = router.get(f"{SSR_URL}shorthalts20261117.txt").respond(
            200, content=fixture("shorthalts20261117.txt")
        )
        async with httpx.AsyncClient() as session:
            nt = client(session)
            now = await nt.halts()
            history = await nt.halts(date(2026, 3, 9))
            ssr = await nt.ssr_list(DAY)
    first, second = (call.request.url for call in feed_route.calls)
    assert dict(first.params) == {"feed": "tradehalts"}
    assert dict(second.params) == {"feed": "tradehalts", "haltdate": "03092026"}
    assert ssr_route.call_count == 1
    assert len(now.halts) == len(history.halts) == 10 and len(ssr.restrictions) == 5


@pytest.mark.anyio
async def test_client_errors_name_the_source(no_backoff: None) -> None:
    with respx.mock() as router:
        feed_route = router.get("https://www.nasdaqtrader.com/rss.aspx")
        feed_route.side_effect = [
            httpx.Response(503),
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, content=fixture("tradehalts_empty_weekend.xml")),
            httpx.Response(404),
            httpx.Response(429),
            httpx.Response(200, content=fixture("shorthalts_missing_day.html")),
        ]
        async with httpx.AsyncClient() as session:
            nt = client(session)
            with pytest.raises(ServiceError, match=r"^Nasdaq Trader halts failed .*HTTP 503"):
                await nt.halts()
            assert (await nt.halts()).halts == []  # a timeout, then the answer
            with pytest.raises(SourceError, match=r"^Nasdaq Trader halts: .*HTTP 404"):
                await nt.halts()
            with pytest.raises(RateLimited, match="429"):
                await nt.halts()
            with pytest.raises(MalformedResponse, match="web page"):
                await nt.halts()
    assert feed_route.call_count == 7


@pytest.mark.anyio
async def test_client_ssr_missing_day(no_backoff: None) -> None:
    with respx.mock() as router:
        route = router.get(f"{SSR_URL}shorthalts20261121.txt")
        route.side_effect = [
            httpx.Response(404, text="<html><title>Not Found</title></html>"),
            httpx.Response(200, content=fixture("shorthalts_missing_day.html")),
            httpx.Response(500),
            httpx.Response(500),
        ]
        async with httpx.AsyncClient() as session:
            nt = client(session)
            saturday = date(2026, 11, 21)
            with pytest.raises(SsrListMissing, match="HTTP 404"):
                await nt.ssr_list(saturday)
            with pytest.raises(SsrListMissing, match="web page"):
                await nt.ssr_list(saturday)
            with pytest.raises(ServiceError, match="short sale list for 2026-11-21"):
                await nt.ssr_list(saturday)
