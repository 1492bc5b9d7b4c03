"""SEC EDGAR's client: the parsers on fixtures in the real shapes (ISO-8859-1, an entry per
entity, titles with " - ", 8-K/A, a bad entry), and the fair-access gate through respx (the
declared User-Agent, the pace, the back-off after a 403 page or a 429, a missing file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from momoscan import market_hours as mh
from momoscan.sources.errors import MalformedResponse, ServiceError
from momoscan.sources.sec import (
    BLOCK_SECONDS,
    RequestPace,
    SecBlocked,
    SecClient,
    SecHttp,
    SecNotFound,
    SecUserAgentMissing,
    merge_entries,
    parse_current,
    parse_ticker_map,
    sec_user_agent,
)

FIXTURES = Path(__file__).parent / "fixtures" / "sec"
TICKERS_URL = "https://www.sec.gov/files/company_tickers_exchange.json"
CURRENT_URL = "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent"
UA = "Jane Trader jane@example.com"


class FakeClock:
    """Monotonic seconds that move only when slept through."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def gate(client: httpx.AsyncClient, clock: FakeClock, agent: str = UA) -> SecHttp:
    return SecHttp(client, user_agent=agent, clock=clock, sleep=clock.sleep)


# -- parsers -----------------------------------------------------------------------------------


def test_ticker_map_rows_classes_nulls_and_a_bad_row() -> None:
    rows, skipped = parse_ticker_map((FIXTURES / "company_tickers_exchange.json").read_bytes())
    assert skipped == 1  # the row whose CIK is "bad"
    by_ticker = {r[1]: r for r in rows}
    assert by_ticker["BRK-B"][0] == by_ticker["BRK-A"][0] == 1067983
    assert by_ticker["USB-PA"][2] == "US BANCORP \\DE\\"
    assert by_ticker["QSHL"][3] == ""  # a null exchange
    assert by_ticker["LEXHB"][3] == "OTC" and by_ticker["LEXHK"][3] == "Nasdaq"
    old, _ = parse_ticker_map((FIXTURES / "company_tickers.json").read_bytes())
    assert (1425627, "SOBR", "SOBR Safe, Inc.", "") in old


def test_a_cut_ticker_map_is_malformed() -> None:
    body = (FIXTURES / "company_tickers_exchange.json").read_bytes()
    with pytest.raises(MalformedResponse, match="not whole JSON"):
        parse_ticker_map(body[: len(body) // 2])
    with pytest.raises(MalformedResponse, match="web page"):
        parse_ticker_map(b"<!DOCTYPE html><html><head><title>Oops</title></head></html>")


def test_current_page_one_filing_per_accession_from_the_company() -> None:
    body = (FIXTURES / "current_page.atom").read_bytes()
    assert "Crédit".encode("latin-1") in body  # the bytes are ISO-8859-1, not UTF-8
    page = parse_current(body)
    assert page.size == 9 and page.skipped == 1  # the title without a CIK
    filings = {f.accession: f for f in merge_entries(page.entries)}
    assert len(filings) == 6
    form4 = filings["0002063236-26-000004"]
    assert (form4.cik, form4.company, form4.kind) == (1425627, "SOBR Safe, Inc.", "insider")
    assert form4.url.startswith("https://www.sec.gov/Archives/edgar/data/1425627/")
    results = filings["0001477932-26-005759"]
    assert results.company == "Crédit Nord - Société Holdings Inc"
    assert (results.form, results.items, results.kind) == ("8-K", ("2.02", "9.01"), "results")
    assert results.accepted_at == datetime(2026, 11, 20, 15, 1, 10, tzinfo=UTC).timestamp()
    amended = filings["0001213900-26-001234"]
    assert (amended.form, amended.items) == ("8-K/A", ("1.01", "3.02", "9.01"))
    assert amended.kind == "offering"  # 3.02: shares sold, dilution
    assert filings["0000950170-26-000777"].cik == 1652044  # the subject, not the filer
    assert filings["0001104659-26-000321"].kind == "news"  # a 6-K
    assert filings["0001193125-26-000999"].kind == "offering"  # a 424B5
    ordered = merge_entries(page.entries)
    assert [f.accepted_at for f in ordered] == sorted(
        (f.accepted_at for f in ordered), reverse=True
    )


def test_control_characters_in_a_name_are_cleaned() -> None:
    body = (FIXTURES / "current_page.atom").read_bytes()
    body = body.replace(
        b"SOBR Safe, Inc. (0001425627) (Issuer)", b"SOBR\xc2\x9b2J Safe (0001425627) (Issuer)"
    )
    filings = {f.accession: f for f in merge_entries(parse_current(body).entries)}
    assert "\x9b" not in filings["0002063236-26-000004"].company


@pytest.mark.parametrize(
    "body, words",
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><head><title>SEC.gov | File Unavailable</title>", "web page"),
        (b"<?xml version='1.0'?><rss><channel/></rss>", "not an Atom feed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "not readable XML"),
    ],
)
def test_what_is_not_the_feed(body: bytes, words: str) -> None:
    with pytest.raises(MalformedResponse, match=words):
        parse_current(body)


def test_user_agent_from_config_or_the_demo_never_guessed() -> None:
    assert sec_user_agent(" A b@c.d ", demo=False) == ("A b@c.d", "")
    agent, off = sec_user_agent("", demo=False)
    assert agent == "" and '[sec] user_agent = "Your Name you@example.com"' in off
    assert sec_user_agent("", demo=True)[0].endswith("@momoscan.invalid")


# -- the fair-access gate ------------------------------------------------------------------


@pytest.mark.anyio
async def test_no_user_agent_sends_nothing() -> None:
    clock = FakeClock()
    with respx.mock(assert_all_called=False) as router:
        route = router.get(TICKERS_URL).respond(200, json={})
        async with httpx.AsyncClient() as http:
            with pytest.raises(SecUserAgentMissing, match=r"\[sec\] user_agent"):
                await SecClient(gate(http, clock, agent="")).ticker_map()
    assert route.call_count == 0


@pytest.mark.anyio
async def test_the_declared_agent_and_encodings_are_sent() -> None:
    clock = FakeClock()
    body = (FIXTURES / "company_tickers_exchange.json").read_bytes()
    with respx.mock() as router:
        route = router.get(TICKERS_URL).respond(200, content=body)
        async with httpx.AsyncClient() as http:
            rows = await SecClient(gate(http, clock)).ticker_map()
    assert len(rows) == 9
    request = route.calls.last.request
    assert request.headers["user-agent"] == UA
    assert request.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.anyio
async def test_a_429_backs_off_with_no_request_until_it_ends() -> None:
    clock = FakeClock()
    with respx.mock() as router:
        route = router.get(TICKERS_URL).mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "900"}, text="slow down"),
                httpx.Response(200, content=(FIXTURES / "company_tickers.json").read_bytes()),
            ]
        )
        async with httpx.AsyncClient() as http:
            client = SecClient(gate(http, clock))
            with pytest.raises(SecBlocked, match="429") as first:
                await client.ticker_map()
            assert first.value.retry_after == 900 and first.value.status == 429
            clock.now += 899
            with pytest.raises(SecBlocked) as again:
                await client.ticker_map()
            assert route.call_count == 1 and 0 < again.value.retry_after <= 1
            clock.now += 2
            assert len(await client.ticker_map()) == 3
    assert route.call_count == 2


@pytest.mark.anyio
async def test_a_403_page_is_a_block_and_an_access_denied_xml_a_missing_file() -> None:
    clock = FakeClock()
    page = "<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head></html>"
    denied = b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'
    with respx.mock() as router:
        missing = router.get("https://www.sec.gov/Archives/x.txt").respond(403, content=denied)
        blocked = router.get(TICKERS_URL).respond(403, text=page)
        async with httpx.AsyncClient() as http:
            sec = gate(http, clock)
            with pytest.raises(SecNotFound):
                await sec.get("https://www.sec.gov/Archives/x.txt", what="SEC EDGAR file")
            assert sec.blocked_for == 0  # a missing file is no block
            with pytest.raises(SecBlocked, match=r"403.*\[sec\] user_agent") as exc:
                await sec.get(TICKERS_URL, what="SEC EDGAR ticker map")
            assert exc.value.retry_after == BLOCK_SECONDS and exc.value.status == 403
            with pytest.raises(SecBlocked):
                await sec.get("https://www.sec.gov/Archives/x.txt", what="SEC EDGAR file")
    assert missing.call_count == 1 and blocked.call_count == 1


@pytest.mark.anyio
async def test_a_5xx_is_retried_then_said() -> None:
    clock = FakeClock()
    with respx.mock() as router:
        route = router.get(TICKERS_URL).mock(
            side_effect=[
                httpx.Response(503, text="<html><head><title>SEC.gov | File Unavailable</title>"),
                httpx.Response(503, text=""),
            ]
        )
        async with httpx.AsyncClient() as http:
            with pytest.raises(ServiceError, match="2 tries: HTTP 503"):
                await SecClient(gate(http, clock)).ticker_map()
    assert route.call_count == 2


@pytest.mark.anyio
async def test_the_pace_never_starts_more_than_its_limit_in_a_second() -> None:
    clock = FakeClock()
    pace = RequestPace(8.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(30):
        await pace.wait()
        starts.append(clock.now)
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < start + 1.0) <= 8
    assert starts[-1] - starts[0] >= 3.0  # 30 starts at 8 a second take over 3 s


# -- paging ----------------------------------------------------------------------------------


def atom(accessions: list[str], first_minute: int = 50) -> bytes:
    """A feed page with one 8-K entry for each accession, a minute apart, newest first."""
    entries = []
    for k, accession in enumerate(accessions):
        at = datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET) + timedelta(minutes=first_minute - k)
        entries.append(
            "<entry><title>8-K - Example Co (0001425627) (Filer)</title>"
            f"<summary type='html'>AccNo: {accession} &lt;br&gt;Item 8.01: Other Events"
            f"</summary><updated>{at.isoformat()}</updated>"
            f"<id>urn:tag:sec.gov,2008:accession-number={accession}</id></entry>"
        )
    return (
        "<?xml version='1.0' encoding='ISO-8859-1'?>"
        "<feed xmlns='http://www.w3.org/2005/Atom'><updated>2026-11-20T10:59:00-05:00</updated>"
        + "".join(entries)
        + "</feed>"
    ).encode("latin-1")


def acc(n: int) -> str:
    return f"0001477932-26-{n:06d}"


@pytest.mark.anyio
async def test_paging_stops_at_a_known_accession_a_short_page_or_a_503() -> None:
    clock = FakeClock()
    full = atom([acc(n) for n in range(100, 0, -1)], first_minute=59)
    with respx.mock() as router:
        route = router.get(url__startswith="https://www.sec.gov/cgi-bin/browse-edgar").mock(
            side_effect=[
                httpx.Response(200, content=full),  # known on the first page: one request
                httpx.Response(200, content=full),  # a full page, then a short one
                httpx.Response(200, content=atom([acc(0)])),
                httpx.Response(200, content=full),  # a full page, then EDGAR's 503 page
                httpx.Response(503, text="<html><title>File Unavailable</title></html>"),
                httpx.Response(503, text="<html><title>File Unavailable</title></html>"),
            ]
        )
        async with httpx.AsyncClient() as http:
            client = SecClient(gate(http, clock), current_url=CURRENT_URL)
            # Read before: everything up to 98 (an entry left out alone is left out, the rest
            # of its page kept: a filing sorted late is not lost).
            known = await client.current_filings({acc(n) for n in range(1, 99)}, count=100)
            assert known.reached_known and known.pages == 1
            assert [f.accession for f in known.filings] == [acc(100), acc(99)]
            short = await client.current_filings(count=100)
            assert short.pages == 2 and len(short.filings) == 101 and not short.reached_known
            cut = await client.current_filings(count=100)
            assert cut.pages == 2 and len(cut.filings) == 100
        params = [dict(call.request.url.params) for call in route.calls]
    assert params[0]["start"] == "0" and params[2]["start"] == "100"
    assert params[0]["count"] == "100" and params[0]["owner"] == "include"
    assert params[0]["output"] == "atom" and params[0]["action"] == "getcurrent"


@pytest.mark.anyio
async def test_paging_stops_at_since_and_a_first_page_failure_is_raised() -> None:
    clock = FakeClock()
    full = atom([acc(n) for n in range(100, 0, -1)], first_minute=59)
    since = datetime(2026, 11, 20, 10, 57, tzinfo=mh.ET).timestamp()
    with respx.mock() as router:
        router.get(url__startswith="https://www.sec.gov/cgi-bin/browse-edgar").mock(
            side_effect=[httpx.Response(200, content=full), httpx.Response(200, text="<html>")]
        )
        async with httpx.AsyncClient() as http:
            client = SecClient(gate(http, clock), current_url=CURRENT_URL)
            page = await client.current_filings(since=since)
            assert [f.accession for f in page.filings] == [acc(100), acc(99), acc(98)]
            with pytest.raises(MalformedResponse, match="web page"):
                await client.current_filings()
