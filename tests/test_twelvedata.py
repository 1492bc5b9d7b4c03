from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import httpx
import orjson
import pytest
import respx

from momoscan import market_hours as mh
from momoscan.models import Quote, SymbolError
from momoscan.sources.errors import AuthError, MalformedResponse, PermissionDenied, ServiceError
from momoscan.sources.ratelimit import CreditBudget
from momoscan.sources.twelvedata import (
    ErrorEnvelope,
    TwelveDataClient,
    parse_api_usage,
    parse_movers,
    parse_quote_body,
)

BASE = "https://td.test"
KEY = "sekrit-key-1234"
TD = Path(__file__).parent / "fixtures" / "twelvedata"


def body(name: str) -> bytes:
    return (TD / name).read_bytes()


# -- parsing ---------------------------------------------------------------------------------


def test_single_flat_quote_numbers_from_strings() -> None:
    quotes, errors = parse_quote_body(body("quote_single.json"), ["ACME"])
    assert errors == []
    (q,) = quotes
    assert q == Quote(
        symbol="ACME",
        price=43.61,
        open=41.2,
        high=44.015,
        low=40.87,
        prev_close=40.95,
        change_pct=6.49573,
        volume=1830201,
        avg_volume=952310,
        market_open=True,
        quote_ts=1795190400,
        name="Acme S&P Holdings",
        exchange="NASDAQ",
        mic="XNGS",
    )
    assert q.rvol == pytest.approx(1830201 / 952310)


def test_old_format_without_mic_or_timestamps() -> None:
    (q,), errors = parse_quote_body(body("quote_single_2021_format.json"), ["OLDC"])
    assert errors == []
    assert q.mic == "" and q.market_open is None
    # Only the bar's date ("2021-07-01"): the quote's time is that day's 09:30 ET open.
    assert q.quote_ts == int(datetime(2021, 7, 1, 9, 30, tzinfo=mh.ET).timestamp())
    assert q.price == 146.84 and q.change_pct == pytest.approx(0.17054)


def test_batch_keeps_errors_apart_from_good_quotes() -> None:
    requested = ["ACME", "NOPE1", "BETA", "NOPE2", "NULLY", "GONE"]
    quotes, errors = parse_quote_body(body("batch_mixed.json"), requested)
    assert [q.symbol for q in quotes] == ["ACME", "BETA"]
    beta = quotes[1]
    assert beta.name == "Beta [bold]Corp" and beta.avg_volume is None and beta.rvol is None
    by_symbol = {e.symbol: e for e in errors}
    assert set(by_symbol) == {"NOPE1", "NOPE2", "NULLY", "GONE"}
    assert by_symbol["NOPE1"].code == 400 and "not found: NOPE1" in by_symbol["NOPE1"].message
    assert "**" not in by_symbol["NOPE1"].message
    assert by_symbol["NULLY"].message == "the quote has no price"
    assert by_symbol["GONE"].message == "missing from Twelve Data's answer"


def test_answer_keys_in_another_case_or_extra_still_account_for_every_symbol() -> None:
    quote = {"symbol": "x", "close": "10.5", "previous_close": "10", "percent_change": "5"}
    answer = orjson.dumps({"acme": quote, "BETA": quote, "EXTRA": quote})
    quotes, errors = parse_quote_body(answer, ["ACME", "BETA", "GONE"])
    # A key in another case is the symbol asked; a key nobody asked for is kept as sent; a
    # symbol with no key is missing, even though the answer has as many keys as were asked.
    assert [q.symbol for q in quotes] == ["ACME", "BETA", "EXTRA"]
    assert [(e.symbol, e.message) for e in errors] == [
        ("GONE", "missing from Twelve Data's answer")
    ]


def test_envelope_and_garbage() -> None:
    with pytest.raises(ErrorEnvelope) as info:
        parse_quote_body(body("error_429.json"), ["A", "B"])
    assert info.value.code == 429
    with pytest.raises(MalformedResponse):
        parse_quote_body(b"<html><body>502 Bad Gateway</body></html>", ["A"])
    with pytest.raises(MalformedResponse):
        parse_quote_body(b"[1, 2]", ["A"])


def test_api_usage_shapes() -> None:
    usage = parse_api_usage(body("api_usage.json"))
    assert (usage.plan_limit, usage.current_usage, usage.plan_daily_limit) == (55, 12, None)
    basic = parse_api_usage(body("api_usage_basic.json"))
    assert (basic.plan_limit, basic.daily_usage, basic.plan_daily_limit) == (8, 120, 800)


# -- the client over HTTP --------------------------------------------------------------------


async def no_sleep(_seconds: float) -> None:
    return None


def make_client(http: httpx.AsyncClient, **kwargs: object) -> TwelveDataClient:
    return TwelveDataClient(http, KEY, base_url=BASE, sleep=no_sleep, **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_batch_request_uses_header_auth_and_keeps_good_symbols() -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get(f"{BASE}/quote").mock(
            return_value=httpx.Response(
                200,
                content=body("batch_mixed.json"),
                headers={"api-credits-used": "6", "api-credits-left": "49"},
            )
        )
        async with httpx.AsyncClient() as http:
            client = make_client(http)
            batch = await client.quote_batch(["ACME", "NOPE1", "BETA", "NOPE2", "NULLY", "GONE"])
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"apikey {KEY}"
    assert KEY not in str(request.url) and "apikey" not in str(request.url)
    assert request.url.params["symbol"] == "ACME,NOPE1,BETA,NOPE2,NULLY,GONE"
    assert [q.symbol for q in batch.quotes] == ["ACME", "BETA"]
    assert len(batch.errors) == 4
    assert (batch.credits_used, batch.credits_left) == (6, 49)


@pytest.mark.anyio
async def test_429_waits_for_next_minute_then_retries_same_symbols() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with respx.mock() as router:
        route = router.get(f"{BASE}/quote").mock(
            side_effect=[
                httpx.Response(200, content=body("error_429.json")),
                httpx.Response(200, content=body("quote_single.json")),
            ]
        )
        async with httpx.AsyncClient() as http:
            client = TwelveDataClient(
                http, KEY, base_url=BASE, sleep=sleep, wall_clock=lambda: 1_000_000 * 60 + 42.0
            )
            batch = await client.quote_batch(["ACME"])
    assert route.call_count == 2
    assert [c.request.url.params["symbol"] for c in route.calls] == ["ACME", "ACME"]
    assert [q.symbol for q in batch.quotes] == ["ACME"]
    # 18 s to the minute boundary plus 0.5 to 3 s of jitter.
    assert len(slept) == 1 and 18.5 <= slept[0] <= 21.0


@pytest.mark.anyio
async def test_http_429_status_is_handled_like_in_body_429() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(
            side_effect=[
                httpx.Response(429, content=body("error_429.json")),
                httpx.Response(200, content=body("quote_single.json")),
            ]
        )
        async with httpx.AsyncClient() as http:
            batch = await make_client(http).quote_batch(["ACME"])
    assert [q.symbol for q in batch.quotes] == ["ACME"]


@pytest.mark.anyio
async def test_401_is_an_auth_error_that_says_where_to_set_the_key() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(
            return_value=httpx.Response(401, content=body("error_401.json"))
        )
        async with httpx.AsyncClient() as http:
            with pytest.raises(AuthError) as info:
                await make_client(http).quote_batch(["ACME", "BETA"])
    message = str(info.value)
    assert "TWELVEDATA_API_KEY" in message and KEY not in message


@pytest.mark.anyio
async def test_401_in_body_with_http_200() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(
            return_value=httpx.Response(200, content=body("error_401.json"))
        )
        async with httpx.AsyncClient() as http:
            with pytest.raises(AuthError):
                await make_client(http).quote_batch(["ACME", "BETA"])


@pytest.mark.anyio
async def test_403_plan_lacks_endpoint() -> None:
    payload = b'{"code":403,"message":"/quote is not available with your plan","status":"error"}'
    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(return_value=httpx.Response(403, content=payload))
        async with httpx.AsyncClient() as http:
            with pytest.raises(PermissionDenied, match="not available with your plan"):
                await make_client(http).quote_batch(["ACME"])


@pytest.mark.anyio
async def test_500_and_502_html_are_retried_then_succeed() -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/quote").mock(
            side_effect=[
                httpx.Response(500, content=b'{"code":500,"message":"oops","status":"error"}'),
                httpx.Response(502, content=b"<html><h1>502 Bad Gateway</h1></html>"),
                httpx.Response(200, content=body("quote_single.json")),
            ]
        )
        async with httpx.AsyncClient() as http:
            batch = await make_client(http).quote_batch(["ACME"])
    assert route.call_count == 3
    assert [q.symbol for q in batch.quotes] == ["ACME"]


@pytest.mark.anyio
async def test_timeouts_exhaust_retries_into_service_error() -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/quote").mock(side_effect=httpx.ReadTimeout("slow"))
        async with httpx.AsyncClient() as http:
            with pytest.raises(ServiceError, match="timed out"):
                await make_client(http, retries=2).quote_batch(["ACME"])
    assert route.call_count == 3


@pytest.mark.anyio
async def test_200_with_html_body_is_malformed() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(
            return_value=httpx.Response(200, content=b"<html>hi</html>")
        )
        async with httpx.AsyncClient() as http:
            with pytest.raises(MalformedResponse, match="not JSON"):
                await make_client(http).quote_batch(["ACME"])


@pytest.mark.anyio
async def test_credits_left_header_resyncs_the_budget() -> None:
    now = [0.0]
    budget = CreditBudget(55, clock=lambda: now[0])
    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(
            return_value=httpx.Response(
                200,
                content=body("quote_single.json"),
                headers={"api-credits-used": "41", "api-credits-left": "14"},
            )
        )
        async with httpx.AsyncClient() as http:
            client = make_client(http, budget=budget)
            await budget.take(1)
            await client.quote_batch(["ACME"])
    # We spent 1; the server says 41 are gone: the budget must not hand out more than 14.
    assert budget.available() == 14


@pytest.mark.anyio
async def test_more_than_120_symbols_is_refused_before_sending() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="at most 120"):
            await make_client(http).quote_batch([f"S{i}" for i in range(121)])


def test_symbol_error_type() -> None:
    assert SymbolError("X", None, "m").code is None


@pytest.mark.anyio
async def test_a_retry_after_429_takes_and_reports_its_credits() -> None:
    now = [5_000_000.0]
    budget = CreditBudget(100, clock=lambda: now[0])

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    with respx.mock() as router:
        router.get(f"{BASE}/quote").mock(
            side_effect=[
                httpx.Response(200, content=body("error_429.json")),
                httpx.Response(200, content=body("batch_mixed.json")),
            ]
        )
        async with httpx.AsyncClient() as http:
            client = TwelveDataClient(
                http, KEY, base_url=BASE, budget=budget, sleep=sleep, wall_clock=lambda: now[0]
            )
            symbols = ["ACME", "NOPE1", "BETA", "NOPE2", "NULLY"]
            await budget.take(len(symbols))
            await client.quote_batch(symbols)
    grants = client.drain_retry_grants()
    assert [credits for _, credits in grants] == [5]
    assert client.drain_retry_grants() == []
    assert budget.total_granted == 10  # the first try and the retry both spent credits


def test_the_quotes_own_time_is_its_last_minute_candle() -> None:
    # The recorded 2026 shape: `timestamp` is the daily bar's 09:30 open, `last_quote_at` the
    # last minute candle (09:45): the quote's age is measured from the latter.
    payload = (
        b'{"symbol":"SPY","name":"SPDR","exchange":"NYSE","mic_code":"ARCX","datetime":'
        b'"2026-09-25","timestamp":1790343000,"last_quote_at":1790343900,"close":"769.465",'
        b'"previous_close":"767.17999","percent_change":"0.29784501","is_market_open":true}'
    )
    (q,), _ = parse_quote_body(payload, ["SPY"])
    assert q.quote_ts == 1790343900


def test_an_after_hours_quote_carries_its_extended_price_and_time() -> None:
    # After the close the daily bar is today's: the extended price's change is reckoned from
    # the close before today's session (previous_close), so the day's move stays in view.
    payload = (
        b'{"symbol":"AAPL","close":"200.00","previous_close":"198.00","percent_change":"1.0101",'
        b'"is_market_open":false,"volume":"5000000","timestamp":1790343000,'
        b'"last_quote_at":1790366400,"extended_price":"203.10","extended_percent_change":"1.55",'
        b'"extended_timestamp":"1790370000"}'
    )
    (q,), _ = parse_quote_body(payload, ["AAPL"])
    assert (q.price, q.quote_ts, q.extended) == (203.10, 1790370000, True)
    assert q.change_pct == pytest.approx((203.10 - 198.0) / 198.0 * 100)
    assert (q.regular_price, q.regular_change_pct, q.volume) == (200.0, 1.0101, 5_000_000)


def test_a_premarket_quote_is_a_gap_from_the_previous_close() -> None:
    # Before the open the daily bar is the previous session's (its close, its volume): the
    # extended price's change from that close is the gap, and the bar's volume is not today's.
    yesterday = int(datetime(2026, 11, 19, 15, 59, tzinfo=mh.ET).timestamp())
    premarket = int(datetime(2026, 11, 20, 8, 30, tzinfo=mh.ET).timestamp())
    payload = (
        b'{"symbol":"LSCC","datetime":"2026-11-19","close":"60.03","previous_close":"59.00",'
        b'"percent_change":"1.7457","volume":"4000000","is_market_open":false,'
        b'"last_quote_at":' + str(yesterday).encode() + b',"extended_price":"81.12",'
        b'"extended_timestamp":"' + str(premarket).encode() + b'"}'
    )
    (q,), _ = parse_quote_body(payload, ["LSCC"])
    assert (q.price, q.quote_ts, q.volume, q.regular_price) == (81.12, premarket, None, 60.03)
    assert q.change_pct == pytest.approx((81.12 - 60.03) / 60.03 * 100)


def test_a_halted_stocks_quote_keeps_its_old_time() -> None:
    three_days_ago = int(datetime(2026, 11, 24, 15, 59, tzinfo=mh.ET).timestamp())
    payload = (
        b'{"HALT":{"symbol":"HALT","close":"12.00","percent_change":"45.0",'
        b'"datetime":"2026-11-24","last_quote_at":' + str(three_days_ago).encode() + b"},"
        b'"AAPL":{"symbol":"AAPL","close":"200.00","percent_change":"1.0"}}'
    )
    quotes, errors = parse_quote_body(payload, ["HALT", "AAPL"])
    assert not errors
    assert {q.symbol: q.quote_ts for q in quotes} == {"HALT": three_days_ago, "AAPL": None}


# -- /market_movers ----------------------------------------------------------------------------


def test_movers_numbers_as_numbers_and_the_rows_that_do_not_add_up() -> None:
    """marekskopal/twelvedata's fixture (@2474270, the spec's shape): rows from earlier days
    among today's, a percent change that is no percent of anything (MSW), a change bigger
    than the price (PDYNW), and every row's `datetime` the 09:30 bar open rather than when
    it traded."""
    answer = parse_movers(body("market_movers_stocks.json"))
    symbols = [r.symbol for r in answer.rows]
    assert [d.split(":")[0] for d in answer.dropped] == ["MSW", "PDYNW"]
    assert "MSW" not in symbols and "PDYNW" not in symbols and "PDYN" in symbols
    assert len(symbols) == 23 and symbols[0] == "APLM"
    xcur = next(r for r in answer.rows if r.symbol == "XCUR")
    assert (xcur.last, xcur.change, xcur.percent_change) == (18.38, 7.52, 69.24493)
    assert xcur.prev_close == pytest.approx(10.86) and xcur.volume == 4456800
    assert xcur.mic == "XNCM" and xcur.day == date(2024, 11, 22) and xcur.quote_ts is None
    # The caller tells today's rows from an earlier day's by their date.
    assert {r.day for r in answer.rows} == {
        date(2024, 11, 14),
        date(2024, 11, 21),
        date(2024, 11, 22),
    }


def test_movers_times_and_strings_for_numbers() -> None:
    raw = (
        b'{"values":[{"symbol":"acme","last":"12.5","change":"2.5","percent_change":"25",'
        b'"volume":"1200","datetime":"2026-11-20 10:41:00"},'
        b'{"symbol":"ZED","last":5,"change":-1,"percent_change":-16.66667,'
        b'"datetime":"2026-11-20T15:41:00Z"},{"symbol":"NOP","last":null,"change":1}],'
        b'"status":"ok"}'
    )
    answer = parse_movers(raw)
    acme, zed = answer.rows
    assert acme.symbol == "ACME" and acme.percent_change == 25.0 and acme.volume == 1200
    assert acme.quote_ts == int(datetime(2026, 11, 20, 10, 41, tzinfo=mh.ET).timestamp())
    assert zed.quote_ts == acme.quote_ts and zed.volume is None and zed.prev_close == 6
    assert answer.dropped == ["NOP: no price or change"]
    with pytest.raises(ErrorEnvelope):
        parse_movers(b'{"code":403,"message":"no","status":"error"}')
    with pytest.raises(MalformedResponse):
        parse_movers(b'{"status":"ok"}')


@pytest.mark.anyio
async def test_movers_request_and_the_plan_without_it() -> None:
    refused = (
        b'{"code":403,"message":"**/market_movers** is available exclusively with pro or '
        b'higher plans.","status":"error"}'
    )
    with respx.mock() as router:
        route = router.get(f"{BASE}/market_movers/stocks").mock(
            side_effect=[
                httpx.Response(200, content=body("market_movers_stocks.json")),
                httpx.Response(403, content=refused),
            ]
        )
        async with httpx.AsyncClient() as http:
            client = make_client(http)
            answer = await client.market_movers("losers", price_greater_than=1.0)
            with pytest.raises(PermissionDenied, match="exclusively with pro"):
                await client.market_movers()
    first = route.calls[0].request
    assert dict(first.url.params) == {
        "direction": "losers",
        "outputsize": "50",
        "price_greater_than": "1",
    }
    assert first.headers["Authorization"] == f"apikey {KEY}" and KEY not in str(first.url)
    assert route.calls[1].request.url.params["direction"] == "gainers"
    assert len(answer.rows) == 23
