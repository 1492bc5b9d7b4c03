"""OCC's daily volume CSV: halving both sides, damaged files, "no data" days and the client.

The fixtures are hand-written in the shape public code reads from OCC's volume query (header
`quantity,underlying,symbol,actype,porc,exchange,actdate`, one row per underlying, root, account
type, call/put and exchange). `no_data.txt` stands in for OCC's short "no data" reply; its exact
wording is not known, only that it is tens of bytes and not the header.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from pathlib import Path

import httpx
import pytest
import respx

from momoscan.models import UnderlyingVolume
from momoscan.sources import occ
from momoscan.sources.errors import MalformedResponse, RateLimited, ServiceError, SourceError
from momoscan.sources.occ import OCC_HEADER, OccClient, parse_volume_csv

FIXTURES = Path(__file__).parent / "fixtures" / "occ"
DAY = date(2026, 8, 14)
HEADER = "quantity,underlying,symbol,actype,porc,exchange,actdate"
EXPECTED_URL = (
    "https://marketdata.theocc.com/volume-query?reportDate=20260814&format=csv"
    "&volumeQueryType=O&symbolType=ALL&symbol=&reportType=D&accountType=ALL"
    "&productKind=ALL&porc=BOTH"
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_underlying(volumes: list[UnderlyingVolume]) -> dict[str, tuple[int, int, int]]:
    return {v.underlying: (v.total, v.calls, v.puts) for v in volumes}


# ------------------------------------------------------------------------------------- parsing


def test_header_constant() -> None:
    assert ",".join(OCC_HEADER) == HEADER


def test_parse_day_halves_both_sides() -> None:
    day, volumes, bad = parse_volume_csv(fixture("volume_20260814.csv"))
    assert day == DAY
    assert bad == 0
    assert by_underlying(volumes) == {
        # calls: (1200 + 800 + 400 + 10 [root AAPL1]) / 2; puts: (600 + 600) / 2
        "AAPL": (1805, 1205, 600),
        # calls and puts are halved separately: 101 // 2 + 99 // 2, not (101 + 99) // 2
        "MSFT": (99, 50, 49),
        # SPX and SPXW roots both count for the SPX underlying
        "SPX": (17000, 10000, 7000),
        "ZZZQ": (1, 0, 1),
    }
    assert all(v.source == "occ" and v.day == DAY for v in volumes)
    # Largest first.
    assert [v.underlying for v in volumes] == ["SPX", "AAPL", "MSFT", "ZZZQ"]


def test_parse_accepts_str_crlf_bom_and_expected_day() -> None:
    text = "\ufeff" + fixture("volume_20260814.csv").decode().replace("\n", "\r\n")
    day, volumes, bad = parse_volume_csv(text, expected_day=DAY)
    assert (day, bad) == (DAY, 0)
    assert by_underlying(volumes)["AAPL"] == (1805, 1205, 600)


def test_damaged_file_loses_only_the_bad_rows() -> None:
    day, volumes, bad = parse_volume_csv(fixture("volume_20260814_damaged.csv"), DAY)
    assert day == DAY
    # Skipped: non-integer quantity, 6 fields, empty underlying, porc X, 8 fields, negative
    # quantity, impossible date, and a row broken off inside its date (the file goes on after
    # it). Blank lines are not.
    assert bad == 8
    assert by_underlying(volumes) == {"TSLA": (100, 50, 50), "NVDA": (40, 40, 0)}


@pytest.mark.parametrize(
    "cut",
    [
        "30",
        "30,NVDA",
        "30,NVDA,NVDA,C,P,ISE,",
        "30,NVDA,NVDA,C,P,ISE,08/14/20",
        "30,NVDA,NVDA,C,P,ISE,08/14/202",
    ],
)
def test_a_file_cut_inside_its_last_row_is_refused(cut: str) -> None:
    # Its totals would be short by whatever came after the cut: the day is not used.
    text = f"{HEADER}\n40,NVDA,NVDA,C,C,CBOE,08/14/2026\n{cut}"
    with pytest.raises(MalformedResponse, match="cut short"):
        parse_volume_csv(text)


def test_a_last_row_without_newline_is_kept() -> None:
    text = f"{HEADER}\n40,NVDA,NVDA,C,C,CBOE,08/14/2026\n30,NVDA,NVDA,C,P,ISE,08/14/2026"
    day, volumes, bad = parse_volume_csv(text)
    assert (day, bad) == (DAY, 0)
    assert by_underlying(volumes) == {"NVDA": (35, 20, 15)}


def test_trailing_comma_and_crlf_rows_as_public_parsers_record_them() -> None:
    # Every row ends with a comma (an 8th, empty field after actdate), CRLF line endings.
    lines = fixture("volume_20260814.csv").decode().splitlines()
    text = "\r\n".join(line + "," for line in lines) + "\r\n"
    result = occ.parse_day(text, DAY)
    assert result.status is occ.OccStatus.PUBLISHED and result.skipped == 0
    assert by_underlying(result.volumes)["AAPL"] == (1805, 1205, 600)
    assert set(result.tolerated) == {"CRLF line endings", "rows end with an empty 8th field"}


def test_text_exchange_codes_are_read() -> None:
    text = (
        f"{HEADER}\n10,SPY,SPY,C,C,CBOE,08/14/2026\n6,SPY,SPY,M,P,NASDAQ OMX PHLX,08/14/2026\n"
        "4,SPY,SPY,F,P,MIAX EMERALD,08/14/2026\n"
    )
    assert by_underlying(parse_volume_csv(text)[1]) == {"SPY": (10, 5, 5)}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("No record(s) found", occ.OccStatus.NO_TRADING),
        ("No record(s) found\r\n", occ.OccStatus.NO_TRADING),
        ("Report date cannot be greater than 08/13/2026", occ.OccStatus.NOT_YET),
        ("Report date cannot be prior to 2 years", occ.OccStatus.OUT_OF_WINDOW),
        ("No data found for the selected criteria.", occ.OccStatus.NOT_YET),
        ("", occ.OccStatus.NOT_YET),
    ],
)
def test_occs_plain_answers_are_understood(body: str, status: occ.OccStatus) -> None:
    result = occ.parse_day(body.encode(), DAY)
    assert (result.status, result.volumes) == (status, [])
    assert result.answer == body.strip() or (not body and result.answer == "an empty answer")


def test_a_short_html_maintenance_page_is_refused_for_that_day() -> None:
    page = (
        b"<html><head><title>Scheduled Maintenance</title></head><body><p>The OCC website is "
        b"undergoing scheduled maintenance. Please check back later.</p></body></html>\n"
    )
    assert len(page) < 225
    with pytest.raises(MalformedResponse, match=r"web page \(Scheduled Maintenance\)"):
        occ.parse_day(page, DAY)


def test_quoted_fields_go_through_the_csv_module() -> None:
    text = (
        f"{HEADER}\n"
        '"10","GOOG","GOOG","C","C","CBOE","08/14/2026"\n'
        '4,"BRK,B",BRKB,C,P,CBOE,08/14/2026\n'
        "6,GOOG,GOOG,M,C,ISE,08/14/2026\n"
    )
    day, volumes, bad = parse_volume_csv(text)
    assert (day, bad) == (DAY, 0)
    assert by_underlying(volumes) == {"GOOG": (8, 8, 0), "BRK,B": (2, 0, 2)}


def test_padded_fields_are_stripped() -> None:
    text = f"{HEADER}\n10, SPY ,SPY,C, C ,CBOE, 08/14/2026 \n10,SPY,SPY,M,C,CBOE,08/14/2026\n"
    day, volumes, bad = parse_volume_csv(text)
    assert (day, bad) == (DAY, 0)
    assert by_underlying(volumes) == {"SPY": (10, 10, 0)}


def test_more_than_one_activity_date_is_refused() -> None:
    text = f"{HEADER}\n10,SPY,SPY,C,C,CBOE,08/14/2026\n10,SPY,SPY,C,C,CBOE,08/13/2026\n"
    with pytest.raises(MalformedResponse, match="2026-08-13, 2026-08-14"):
        parse_volume_csv(text)


def test_another_days_file_is_refused() -> None:
    with pytest.raises(MalformedResponse, match=r"2026-08-13.*2026-08-14"):
        parse_volume_csv(fixture("volume_20260814.csv"), expected_day=date(2026, 8, 13))


@pytest.mark.parametrize(
    "body",
    [
        fixture("no_data.txt"),
        b"",
        b"\n\n  \n",
        "No data found\r\n",
        f"{HEADER}\n".encode(),  # the header and no row
        f"\n{HEADER}\n\n".encode(),
    ],
)
def test_no_data_means_not_published(body: bytes | str) -> None:
    assert parse_volume_csv(body, DAY) == (None, [], 0)


def test_long_body_without_header_is_refused() -> None:
    page = b"<!DOCTYPE html><html><body>" + b"Service unavailable. " * 20 + b"</body></html>"
    assert len(page) >= 200
    with pytest.raises(MalformedResponse, match="web page"):
        parse_volume_csv(page)
    text = b"quantity;underlying;symbol\n" + b"x" * 300
    with pytest.raises(MalformedResponse, match="not the expected CSV"):
        parse_volume_csv(text)


def test_header_with_no_readable_row_is_refused() -> None:
    text = f"{HEADER}\n" + "x,y,z\n" * 100
    with pytest.raises(MalformedResponse, match="none of its 100 rows"):
        parse_volume_csv(text)


def test_wrong_header_is_refused_even_if_rows_look_right() -> None:
    text = "qty,und,sym,act,pc,exch,date\n" + "10,SPY,SPY,C,C,CBOE,08/14/2026\n" * 20
    with pytest.raises(MalformedResponse):
        parse_volume_csv(text)


# ------------------------------------------------------------------------------------- client


@pytest.mark.anyio
async def test_fetch_day_requests_the_documented_url() -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get("https://marketdata.theocc.com/volume-query").respond(
            200, content=fixture("volume_20260814.csv")
        )
        async with httpx.AsyncClient() as client:
            result = await OccClient(client).fetch_day(DAY)
    volumes = result.volumes
    request = route.calls.last.request
    assert str(request.url) == EXPECTED_URL
    assert dict(request.url.params) == {
        "reportDate": "20260814",
        "format": "csv",
        "volumeQueryType": "O",
        "symbolType": "ALL",
        "symbol": "",
        "reportType": "D",
        "accountType": "ALL",
        "productKind": "ALL",
        "porc": "BOTH",
    }
    assert result.status is occ.OccStatus.PUBLISHED
    assert by_underlying(volumes)["SPX"] == (17000, 10000, 7000)


@pytest.mark.anyio
async def test_fetch_day_not_published_yet() -> None:
    with respx.mock() as router:
        router.get("https://marketdata.theocc.com/volume-query").respond(
            200, text="Report date cannot be greater than 08/13/2026"
        )
        async with httpx.AsyncClient() as client:
            result = await OccClient(client).fetch_day(DAY)
    assert result.status is occ.OccStatus.NOT_YET and result.volumes == []


@pytest.mark.anyio
async def test_fetch_day_logs_skipped_lines_and_parses_off_loop(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real_parse = occ.parse_day

    def spy(content: bytes, day: date) -> occ.OccDay:
        threads.append(threading.get_ident())
        return real_parse(content, day)

    monkeypatch.setattr(occ, "parse_day", spy)
    with respx.mock() as router:
        router.get("http://occ.test/volume-query").respond(
            200, content=fixture("volume_20260814_damaged.csv")
        )
        async with httpx.AsyncClient() as client:
            with caplog.at_level(logging.WARNING, logger="momoscan.sources.occ"):
                result = await OccClient(client, base_url="http://occ.test/").fetch_day(DAY)
    assert len(result.volumes) == 2
    assert threads and threads[0] != threading.get_ident()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["OCC volume for 2026-08-14: skipped 8 malformed lines."]


@pytest.mark.anyio
async def test_fetch_day_refuses_another_days_file() -> None:
    with respx.mock() as router:
        router.get("https://marketdata.theocc.com/volume-query").respond(
            200, content=fixture("volume_20260814.csv")
        )
        async with httpx.AsyncClient() as client:
            with pytest.raises(MalformedResponse):
                await OccClient(client).fetch_day(date(2026, 8, 17))


@pytest.mark.anyio
async def test_fetch_day_retries_server_errors(no_backoff: None) -> None:
    with respx.mock() as router:
        route = router.get("https://marketdata.theocc.com/volume-query")
        route.side_effect = [
            httpx.Response(502),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, content=fixture("volume_20260814.csv")),
        ]
        async with httpx.AsyncClient() as client:
            result = await OccClient(client).fetch_day(DAY)
    assert route.call_count == 3
    assert len(result.volumes) == 4


@pytest.mark.anyio
async def test_fetch_day_gives_up_after_retries(no_backoff: None) -> None:
    with respx.mock() as router:
        route = router.get("https://marketdata.theocc.com/volume-query").respond(500)
        async with httpx.AsyncClient() as client:
            with pytest.raises(ServiceError, match="OCC volume for 2026-08-14"):
                await OccClient(client).fetch_day(DAY)
    assert route.call_count == 4


@pytest.mark.anyio
async def test_fetch_day_4xx() -> None:
    with respx.mock() as router:
        route = router.get("https://marketdata.theocc.com/volume-query")
        route.side_effect = [httpx.Response(400), httpx.Response(429)]
        async with httpx.AsyncClient() as client:
            occ_client = OccClient(client)
            with pytest.raises(SourceError, match="400"):
                await occ_client.fetch_day(DAY)
            with pytest.raises(RateLimited, match="429"):
                await occ_client.fetch_day(DAY)
    assert route.call_count == 2
